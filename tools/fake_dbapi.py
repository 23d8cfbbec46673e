"""A DBAPI connection that records what it is sent: the stand-in for SQL Server.

No SQL Server is reachable where the tests run, so the SQL Server writer is tested on
what it sends. ``FakeConnection`` records every statement with its parameters, every
commit, rollback and autocommit switch, keeps track of which statements a commit made
durable, and can be told to fail at a given statement.

    con = FakeConnection(fail_at=3)          # the 3rd execute/executemany raises Error
    con = FakeConnection(fail_when=lambda sql: "TABLOCK" in sql)
    con.respond("sp_getapplock", ["rc"], [(0,)])   # result rows for matching statements
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


class Error(Exception):
    """Named like pyodbc.Error so the writer treats it as a driver error."""


@dataclass
class Call:
    kind: str                      # execute | executemany | commit | rollback | close | autocommit
    sql: str = ""
    params: Any = None             # execute: list of values; executemany: list of row tuples
    autocommit: bool = True        # the connection's mode when the call was made
    fast_executemany: bool = False
    input_sizes: Any = None        # what setinputsizes() last set on the cursor


@dataclass
class FakeConnection:
    fail_at: int | None = None                       # 1-based index among statements
    fail_when: Callable[[str], bool] | None = None
    error_text: str = "[42000] [Microsoft][ODBC Driver 18 for SQL Server] simulated failure"
    calls: list[Call] = field(default_factory=list)
    committed: list[Call] = field(default_factory=list)   # statements made durable
    _pending: list[Call] = field(default_factory=list)
    _responses: list[tuple[str, list[str], list[tuple], list[type]]] = field(default_factory=list)
    _autocommit: bool = False                        # pyodbc's default
    closed: bool = False

    # DBAPI surface ----------------------------------------------------------------------
    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self.calls.append(Call("autocommit", params=bool(value), autocommit=bool(value)))
        self._autocommit = bool(value)

    def cursor(self) -> "FakeCursor":
        return FakeCursor(self)

    def commit(self) -> None:
        self.calls.append(Call("commit", autocommit=self._autocommit))
        self.committed.extend(self._pending)
        self._pending.clear()

    def rollback(self) -> None:
        self.calls.append(Call("rollback", autocommit=self._autocommit))
        self._pending.clear()

    def close(self) -> None:
        self.calls.append(Call("close"))
        self.closed = True

    # Test helpers -----------------------------------------------------------------------
    def respond(self, contains: str, columns: Sequence[str], rows: Sequence[tuple],
                types: Sequence[type] | None = None) -> None:
        """Statements containing ``contains`` return these rows (types: description codes)."""
        self._responses.append((contains, list(columns), list(rows), list(types or [str] * len(columns))))

    @property
    def statements(self) -> list[Call]:
        return [c for c in self.calls if c.kind in ("execute", "executemany")]

    def count(self, kind: str) -> int:
        return sum(1 for c in self.calls if c.kind == kind)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        n = len(self.statements)
        if (self.fail_at is not None and n == self.fail_at) or (
            self.fail_when is not None and self.fail_when(call.sql)
        ):
            raise Error(self.error_text)
        if self._autocommit:
            self.committed.append(call)
        else:
            self._pending.append(call)


class FakeCursor:
    def __init__(self, con: FakeConnection):
        self._con = con
        self.fast_executemany = False
        self.input_sizes = None
        self.description = None
        self._rows: list[tuple] = []

    def execute(self, sql: str, params: Sequence | None = None) -> "FakeCursor":
        self._con._record(Call("execute", sql, list(params or []), self._con.autocommit,
                               self.fast_executemany))
        self.description, self._rows = None, []
        for contains, columns, rows, types in self._con._responses:
            if contains in sql:
                self.description = [(c, t, None, None, None, None, True) for c, t in zip(columns, types)]
                self._rows = list(rows)
                break
        return self

    def executemany(self, sql: str, seq: Sequence[Sequence]) -> None:
        self._con._record(Call("executemany", sql, [tuple(r) for r in seq], self._con.autocommit,
                               self.fast_executemany, self.input_sizes))

    def setinputsizes(self, sizes: Sequence) -> None:
        self.input_sizes = list(sizes)

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple | None:
        return self._rows.pop(0) if self._rows else None

    def close(self) -> None:
        pass
