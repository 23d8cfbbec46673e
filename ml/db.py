"""Database access: one small interface, one implementation per engine.

The rest of ``ml/`` talks to the FA (target) database only through :class:`Database`:
``query_df`` to read, ``replace_rows`` / ``append_rows`` to write (each one transaction),
``ensure_table`` to create the tables Python owns. SQL passed in uses ``?`` placeholders
for values; table and column names must be identifiers validated by the caller (they are
checked again here with :func:`ident`).

DuckDB (embedded default) is implemented here; SQL Server lives in ``ml/db_sqlserver.py``
and is imported only when ``FA_ENGINE=sqlserver``.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Sequence

if TYPE_CHECKING:  # pandas only for annotations: importing it costs ~0.3 s per command
    import pandas as pd

from ml.config import Settings, default_of
from ml.errors import BadInput, DataError, LockHeld

SCHEMA = "dbo"
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

# Logical column types -> engine types. Python-owned tables declare columns with these.
TYPES = {
    "duckdb": {
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "int": "INTEGER",
        "bigint": "BIGINT",
        "float": "DOUBLE",
        "money": "DECIMAL(18,2)",
        "key": "VARCHAR",          # short identifiers (depot numbers, versions, codes)
        "text": "VARCHAR",         # free text, JSON
    },
    "sqlserver": {
        "date": "DATE",
        "timestamp": "DATETIME2(3)",
        "int": "INT",
        "bigint": "BIGINT",
        "float": "FLOAT",
        "money": "DECIMAL(18,2)",
        "key": "VARCHAR(64)",
        "text": "NVARCHAR(MAX)",
    },
}


_SIZED_RE = re.compile(r"^varchar\((\d{1,4})\)$")


def column_type(dialect: str, logical: str) -> str:
    """Engine type of a logical column type; ``varchar(N)`` (N <= 8000) is VARCHAR(N) on
    SQL Server and VARCHAR on DuckDB (which has no length limits)."""
    if logical in TYPES[dialect]:
        return TYPES[dialect][logical]
    sized = _SIZED_RE.match(logical)
    if not sized or not 0 < int(sized.group(1)) <= 8000:
        raise ValueError(f"unknown column type {logical!r}")
    return f"VARCHAR({sized.group(1)})" if dialect == "sqlserver" else "VARCHAR"


def ident(name: str) -> str:
    """Return ``name`` if it is a plain SQL identifier, else raise (never quote-escape)."""
    if not isinstance(name, str) or not _IDENT_RE.match(name):
        raise BadInput(f"not a valid table or column name: {name!r}")
    return name


def create_table_sql(
    dialect: str,
    table: str,
    columns: Sequence[tuple[str, str]],
    primary_key: Sequence[str] = (),
    not_null: Sequence[str] = (),
) -> str:
    """DDL for a Python-owned table; ``columns`` are (name, logical type) pairs."""
    required = set(primary_key) | set(not_null)
    cols = ", ".join(
        f"{ident(c)} {column_type(dialect, t)}{' NOT NULL' if c in required else ''}"
        for c, t in columns
    )
    if primary_key:
        pk_name = ident(f"PK_{table}")[:128]
        clustered = " CLUSTERED" if dialect == "sqlserver" else ""
        cols += f", CONSTRAINT {pk_name} PRIMARY KEY{clustered} ({', '.join(ident(c) for c in primary_key)})"
    return f"CREATE TABLE {SCHEMA}.{ident(table)} ({cols})"


class Database:
    """Interface shared by both engines. Subclasses implement the primitives."""

    dialect = "abstract"

    def query_df(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        raise NotImplementedError

    def scalar(self, sql: str, params: Sequence = ()) -> Any:
        """The first column of the first row of a query (None when it returns no row)."""
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence = ()) -> None:
        raise NotImplementedError

    def table_exists(self, table: str) -> bool:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield  # pragma: no cover

    def insert_df(self, table: str, df: pd.DataFrame) -> int:
        """Insert all rows of ``df`` (inside the caller's transaction)."""
        raise NotImplementedError

    def release_cache(self) -> None:
        """Give back memory the engine caches for reads already done. Default: nothing to
        give back (SQL Server's buffer pool belongs to the server, not to this process)."""

    def close(self) -> None:
        raise NotImplementedError

    # Shared behaviour -------------------------------------------------------------------
    def ensure_table(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        primary_key: Sequence[str] = (),
        not_null: Sequence[str] = (),
    ) -> None:
        """Create the table if it does not exist (never alters or drops)."""
        if not self.table_exists(table):
            self.execute(create_table_sql(self.dialect, table, columns, primary_key, not_null))

    def ensure_columns(self, table: str, columns: Sequence[tuple[str, str]]) -> list[str]:
        """Add the (nullable) columns a table of an older release lacks; returns their names.

        Upgrades only ever add columns at the end (never alter or drop); rows written
        before the upgrade read NULL there.
        """
        present = {c.lower() for c in self.query_df(
            f"SELECT * FROM {SCHEMA}.{ident(table)} WHERE 1 = 0").columns}
        added = []
        for name, logical in columns:
            if name.lower() not in present:
                keyword = "ADD COLUMN" if self.dialect == "duckdb" else "ADD"
                self.execute(f"ALTER TABLE {SCHEMA}.{ident(table)} {keyword} {ident(name)} "
                             f"{column_type(self.dialect, logical)}")
                added.append(name)
        return added

    def require_table(self, table: str, hint: str) -> None:
        """Raise DataError naming what to run when a table the step needs is missing."""
        if not self.table_exists(table):
            raise DataError(f"table {SCHEMA}.{table} does not exist: {hint}")

    def replace_rows(
        self, table: str, df: pd.DataFrame, where_sql: str, where_params: Sequence = ()
    ) -> int:
        """Delete the rows matching ``where_sql`` and insert ``df``, in one transaction."""
        from ml.faults import fault_point

        with self.transaction():
            self.execute(f"DELETE FROM {SCHEMA}.{ident(table)} WHERE {where_sql}", where_params)
            fault_point(f"db.replace:{table}")  # test-only: a crash between DELETE and INSERT
            return self.insert_df(table, df)

    def append_rows(self, table: str, df: pd.DataFrame) -> int:
        """Insert ``df`` in one transaction."""
        with self.transaction():
            return self.insert_df(table, df)

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DuckDatabase(Database):
    """The embedded default: the FA DuckDB file, tables in schema ``dbo``."""

    dialect = "duckdb"

    def __init__(self, path: str, read_only: bool = False,
                 memory_limit: str = default_of(Settings, "duckdb_memory_limit"),
                 threads: int = default_of(Settings, "duckdb_threads")):
        import duckdb  # imported here so importing ml.db stays cheap

        try:
            self._con = duckdb.connect(
                str(path),
                read_only=read_only,
                config={"memory_limit": memory_limit, "threads": threads},
            )
        except duckdb.IOException as exc:
            # DuckDB allows one writing process per file: another process (a pipeline run,
            # a SQL client) has it open. Same remedy as the pipeline lock: wait, rerun.
            if "lock" not in str(exc).lower():
                raise
            holder = re.search(r"\(PID (\d+)\)", str(exc))
            raise LockHeld(
                f"the FA database {path} is open in another process"
                f"{f' (pid {holder.group(1)})' if holder else ''}; "
                "wait for it to finish (or close it), then rerun"
            ) from None
        if not read_only:
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        self._in_tx = False
        self._memory_limit = memory_limit

    def release_cache(self) -> None:
        """Evict the table pages DuckDB's buffer pool kept from earlier reads.

        The pool keeps what a read touched, up to memory_limit, inside this process: after
        train's read at 200k depots that was 3.6 GB of a 6.4 GB RSS, and lowering the limit
        for a moment gave 4.9 GB back to the OS (docs/scale.md). Later reads still work:
        they load pages again as they need them.
        """
        # memory_limit passed ml.config's pattern (digits and a unit), so it is safe to inline
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", self._memory_limit):
            raise ValueError(f"unexpected memory_limit {self._memory_limit!r}")
        self._con.execute("SET memory_limit = '64MB'")
        self._con.execute(f"SET memory_limit = '{self._memory_limit}'")

    def query_df(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        return self._con.execute(sql, list(params)).df()

    def scalar(self, sql: str, params: Sequence = ()) -> Any:
        rows = self._con.execute(sql, list(params)).fetchall()
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Sequence = ()) -> None:
        # fetchall() drains the result: an unfinished result would block the next call.
        self._con.execute(sql, list(params)).fetchall()

    def table_exists(self, table: str) -> bool:
        rows = self._con.execute(
            "SELECT 1 FROM information_schema.tables WHERE lower(table_schema) = lower(?) "
            "AND lower(table_name) = lower(?) AND table_catalog = current_database()",
            [SCHEMA, ident(table)],
        ).fetchall()
        return bool(rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:  # nested use joins the outer transaction
            yield
            return
        self._con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        else:
            self._con.execute("COMMIT")
        finally:
            self._in_tx = False

    def insert_df(self, table: str, df: pd.DataFrame) -> int:
        if df.empty:
            return 0
        cols = ", ".join(ident(c) for c in df.columns)
        self._con.register("_fa_insert_df", df)
        try:
            self._con.execute(
                f"INSERT INTO {SCHEMA}.{ident(table)} ({cols}) SELECT {cols} FROM _fa_insert_df"
            ).fetchall()
        finally:
            self._con.unregister("_fa_insert_df")
        return len(df)

    def close(self) -> None:
        self._con.close()


def open_target(settings: Settings, read_only: bool = False) -> Database:
    """Connect to the FA database of the configured engine."""
    if settings.engine == "sqlserver":
        from ml.db_sqlserver import open_sqlserver_target

        return open_sqlserver_target(settings)
    if read_only and not settings.duckdb_path.exists():
        raise DataError(
            f"FA database {settings.duckdb_path} does not exist: run "
            "'python orchestrate.py backfill' first"
        )
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return DuckDatabase(
        str(settings.duckdb_path),
        read_only=read_only,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )
