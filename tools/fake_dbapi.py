"""A DBAPI connection that records what it is sent: the stand-in for SQL Server.

No SQL Server is reachable where the tests run, so the SQL Server writer is tested on
what it sends. ``FakeConnection`` records every statement with its parameters, every
commit, rollback and autocommit switch, keeps track of which statements a commit made
durable, and can be told to fail at a given statement.

    con = FakeConnection(fail_at=3)          # the 3rd execute/executemany raises Error
    con = FakeConnection(fail_when=lambda sql: "TABLOCK" in sql)
    con.respond("sp_getapplock", ["rc"], [(0,)])   # result rows for matching statements

Strict where msodbcsql is: ``setinputsizes`` entries must carry the sizes the driver
expects for their SQL type (DATE 10, DATETIME2 19/20+scale, VARCHAR 1..8000 or 0 for MAX,
NVARCHAR 1..4000 or 0, DECIMAL 1..38, the fixed types their ODBC column size), else
``executemany`` raises HY104 as the driver does; a string longer than its declared size
raises 22001. ``autocommit`` lives on the connection itself, as in pyodbc: setting it on a
wrapper (a SQLAlchemy pool proxy) does not reach it. Work not committed when the
connection closes is rolled back (``lost``).

``FakePyodbc`` is a stand-in for the pyodbc module: ``create_engine(url, module=FakePyodbc())``
puts these connections behind a real SQLAlchemy engine and pool, as production does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


class Error(Exception):
    """Named like pyodbc.Error so the writer treats it as a driver error."""


class DatabaseError(Error):
    pass


class InterfaceError(Error):
    pass


class OperationalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class DataError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


# ODBC SQL type codes and the column size msodbcsql gives each fixed-size type.
SQL_CHAR, SQL_VARCHAR, SQL_WCHAR, SQL_WVARCHAR = 1, 12, -8, -9
SQL_DECIMAL, SQL_NUMERIC, SQL_INTEGER, SQL_SMALLINT, SQL_TINYINT, SQL_BIGINT, SQL_BIT = 3, 2, 4, 5, -6, -5, -7
SQL_REAL, SQL_FLOAT, SQL_DOUBLE = 7, 6, 8
SQL_TYPE_DATE, SQL_TYPE_TIMESTAMP = 91, 93
FIXED_SIZES = {SQL_INTEGER: 10, SQL_SMALLINT: 5, SQL_TINYINT: 3, SQL_BIGINT: 19, SQL_BIT: 1,
               SQL_REAL: 7, SQL_FLOAT: 15, SQL_DOUBLE: 15, SQL_TYPE_DATE: 10}
STRING_LIMITS = {SQL_CHAR: 8000, SQL_VARCHAR: 8000, SQL_WCHAR: 4000, SQL_WVARCHAR: 4000}


def size_problem(entry: Any) -> str | None:
    """Why msodbcsql would refuse this setinputsizes entry (None: accepted)."""
    if entry is None:
        return None
    sql_type, size, digits = entry
    if sql_type in FIXED_SIZES:
        if (size, digits) != (FIXED_SIZES[sql_type], 0):
            return f"type {sql_type} needs size {FIXED_SIZES[sql_type]}, digits 0 (got {size}, {digits})"
    elif sql_type == SQL_TYPE_TIMESTAMP:
        if not 0 <= digits <= 7 or size not in ((19 if digits == 0 else 20 + digits), 16):
            return f"timestamp size {size} does not fit {digits} fractional digits"
    elif sql_type in STRING_LIMITS:
        max_ok = sql_type in (SQL_VARCHAR, SQL_WVARCHAR) and size == 0
        if not (max_ok or 0 < size <= STRING_LIMITS[sql_type]) or digits != 0:
            return f"string size {size} outside 1..{STRING_LIMITS[sql_type]}"
    elif sql_type in (SQL_DECIMAL, SQL_NUMERIC):
        if not (1 <= size <= 38 and 0 <= digits <= size):
            return f"decimal({size}, {digits}) is not a precision and scale"
    else:
        return f"SQL type {sql_type} is not one the writer should bind"
    return None


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
    lost: list[Call] = field(default_factory=list)   # uncommitted when closed: rolled back
    connect_string: str = ""

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
        self.lost.extend(self._pending)  # the server rolls back an open transaction
        self._pending.clear()
        self.closed = True

    @property
    def in_transaction(self) -> bool:
        """Statements sent since the last commit/rollback outside autocommit."""
        return bool(self._pending)

    # pyodbc connection surface SQLAlchemy uses
    def add_output_converter(self, sqltype: int, func: Callable) -> None:
        pass

    def getinfo(self, code: int) -> str:
        return "16.00.4135"

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
        if self.closed:
            raise ProgrammingError("Attempt to use a closed connection.")
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
        rows = [tuple(r) for r in seq]
        if self.input_sizes is not None:
            n = sql.count("?")
            if len(self.input_sizes) != n:
                raise ProgrammingError(f"07002 {len(self.input_sizes)} input sizes for {n} parameters")
            for i, entry in enumerate(self.input_sizes):
                problem = size_problem(entry)
                if problem:
                    raise Error(f"('HY104', '[HY104] [Microsoft][ODBC Driver 18 for SQL Server]"
                                f"Invalid precision value (0) (SQLBindParameter)') parameter {i + 1}: {problem}")
                if entry is not None and entry[0] in STRING_LIMITS and entry[1]:
                    if any(isinstance(r[i], str) and len(r[i]) > entry[1] for r in rows):
                        raise Error("('22001', '[22001] String data, right truncation')")
        self._con._record(Call("executemany", sql, rows, self._con.autocommit,
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


# Statements SQLAlchemy's mssql dialect sends when it first connects, and their answers.
DIALECT_RESPONSES = [
    ("SERVERPROPERTY('ProductVersion')", ["v"], [("16.0.4135.4",)]),
    ("schema_name()", ["s"], [("dbo",)]),
    ("sys.system_views", ["name"], [("dm_exec_sessions",)]),
    ("transaction_isolation_level", ["level"], [("READ COMMITTED",)]),
    ("NVARCHAR(max)", ["v"], [("test max support",)]),
    ("fn_listextendedproperty", ["v"], [(1,)]),
]


class FakePyodbc:
    """The pyodbc module, for ``create_engine(..., module=FakePyodbc())``: every connect()
    returns a fresh FakeConnection (kept in ``connections``), prepared by ``setup``."""

    version = "5.5.0"
    paramstyle = "qmark"
    threadsafety = 1
    apilevel = "2.0"
    pooling = True
    SQL_DBMS_VER = 18
    Error, DatabaseError, InterfaceError, OperationalError = Error, DatabaseError, InterfaceError, OperationalError
    ProgrammingError, IntegrityError, DataError = ProgrammingError, IntegrityError, DataError
    NotSupportedError, InternalError = NotSupportedError, InternalError
    Warning = Warning
    Cursor = FakeCursor
    SQL_WVARCHAR, SQL_VARCHAR, SQL_WLONGVARCHAR = SQL_WVARCHAR, SQL_VARCHAR, -10

    def __init__(self, setup: Callable[[FakeConnection], None] | None = None,
                 refuse: str | None = None):
        self.setup = setup
        self.refuse = refuse              # connect() raises this driver message
        self.connections: list[FakeConnection] = []

    def connect(self, connect_string: str, **kwargs: Any) -> FakeConnection:
        if self.refuse is not None:
            raise OperationalError(self.refuse)
        con = FakeConnection(connect_string=connect_string)
        for contains, columns, rows in DIALECT_RESPONSES:
            con.respond(contains, columns, rows)
        if self.setup is not None:
            self.setup(con)
        self.connections.append(con)
        return con

    @staticmethod
    def Binary(value: bytes) -> bytes:  # noqa: N802 (DBAPI name)
        return bytes(value)


def password_of(connect_string: str) -> str | None:
    """The PWD= value of an ODBC connection string (braces undone), for tests."""
    m = re.search(r"PWD=(\{(?:[^}]|\}\})*\}|[^;]*)", connect_string)
    if not m:
        return None
    value = m.group(1)
    return value[1:-1].replace("}}", "}") if value.startswith("{") else value
