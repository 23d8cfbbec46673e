"""SQL Server implementation of :class:`ml.db.Database` and the engines of both databases.

Production runs on Microsoft SQL Server through pyodbc and Microsoft ODBC Driver 18.
Everything here is built from environment variables (nothing is read at import time):

==================================  ===========================================  ===========
variable                            meaning                                      default
==================================  ===========================================  ===========
FA_SQLSERVER_HOST                   server name or address (``host\\instance``)   (required)
FA_SQLSERVER_PORT                   TCP port (ignored for host\\instance)         1433
FA_SQLSERVER_DATABASE               the FA (target) database                      FA
FA_SQLSERVER_SOURCE_DATABASE        the source database (read only)               Provisionen
FA_SQLSERVER_USER / _PASSWORD       SQL login; leave both empty for Windows auth
FA_SQLSERVER_TRUSTED_CONNECTION     yes = Windows integrated authentication       no
FA_SQLSERVER_ENCRYPT                yes / no (strict is refused, see below)       yes
FA_SQLSERVER_TRUST_CERT             yes = accept a self-signed server certificate  no
FA_SQLSERVER_DRIVER                 ODBC driver name                  ODBC Driver 18 for SQL Server
FA_SQLSERVER_LOGIN_TIMEOUT          seconds to wait for a connection              30
==================================  ===========================================  ===========

The password never appears in a log line, an error message or an engine's repr: engines
are built from a SQLAlchemy ``URL`` (whose repr masks it) and every driver message that
leaves this module goes through :func:`mask_secrets`.

Bulk writes follow the seed's performance notes: rows go into a ``#temp`` staging table
with pyodbc ``fast_executemany`` in chunks of ``settings.write_chunk_size`` rows, then
``DELETE`` + ``INSERT ... WITH (TABLOCK) SELECT ... FROM #stage`` runs in the same
transaction, so readers see either the old or the new rows of a day, never a mix.
pandas' ``to_sql`` with its multi-row method is never used (slow with pyodbc and bound by
the 2,100-parameter limit).
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterator, Mapping, Sequence

import pandas as pd

from ml.config import Settings, default_of
from ml.db import SCHEMA, Database, ident
from ml.errors import BadInput, DataError, LockHeld

# SQL Server accepts at most 2,100 parameters in one request (sp_executesql limit).
MAX_PARAMS = 2100
_YES = {"1", "true", "yes", "y", "on"}
_NO = {"0", "false", "no", "n", "off", ""}


# ---------------------------------------------------------------------------------------
# Connection settings and engines
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SqlServerConfig:
    """Where the SQL Server is and how to log in (from FA_SQLSERVER_* variables)."""

    host: str
    port: int | None = 1433
    database: str = "FA"
    source_database: str = "Provisionen"
    user: str | None = None
    password: str | None = None
    trusted_connection: bool = False
    encrypt: str = "yes"
    trust_cert: bool = False
    driver: str = "ODBC Driver 18 for SQL Server"
    login_timeout: int = 30

    def __repr__(self) -> str:  # never show the password, not even in a traceback
        shown = {k: v for k, v in self.__dict__.items() if k != "password"}
        shown["password"] = "***" if self.password else None
        return f"SqlServerConfig({shown})"


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise BadInput(f"{name} must be yes or no (got {raw!r})")


def _db_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).strip()
    # Database names end up in connection strings and three-part names: plain identifiers only.
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", value):
        raise BadInput(f"{name} must be a plain database name (got {value!r})")
    return value


def sqlserver_config(env: Mapping[str, str] | None = None) -> SqlServerConfig:
    """Read and validate the FA_SQLSERVER_* variables (raises BadInput naming the variable)."""
    env = os.environ if env is None else env
    host = (env.get("FA_SQLSERVER_HOST") or "").strip()
    if not host:
        raise BadInput("FA_SQLSERVER_HOST is not set (FA_ENGINE=sqlserver needs the server name)")
    if any(ch in host for ch in ";{}="):
        raise BadInput(f"FA_SQLSERVER_HOST is not a server name (got {host!r})")
    port_text = (env.get("FA_SQLSERVER_PORT") or str(default_of(SqlServerConfig, "port"))).strip()
    if "\\" in host or port_text.lower() in ("", "none", "0"):
        port = None  # a named instance (server\\instance): SQL Browser finds the port, as in dbt
    elif port_text.isdigit() and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise BadInput(f"FA_SQLSERVER_PORT must be a TCP port number (got {port_text!r})")
    encrypt = encrypt_option(env.get("FA_SQLSERVER_ENCRYPT"))
    trusted = _flag(env, "FA_SQLSERVER_TRUSTED_CONNECTION", default_of(SqlServerConfig, "trusted_connection"))
    user = (env.get("FA_SQLSERVER_USER") or "").strip() or None
    password = env.get("FA_SQLSERVER_PASSWORD") or None
    if not trusted and not user:
        raise BadInput(
            "FA_SQLSERVER_USER is not set: give a SQL login (FA_SQLSERVER_USER and "
            "FA_SQLSERVER_PASSWORD) or set FA_SQLSERVER_TRUSTED_CONNECTION=yes"
        )
    if trusted and user:
        raise BadInput("set either FA_SQLSERVER_USER or FA_SQLSERVER_TRUSTED_CONNECTION=yes, not both")
    timeout_text = (env.get("FA_SQLSERVER_LOGIN_TIMEOUT")
                    or str(default_of(SqlServerConfig, "login_timeout"))).strip()
    if not timeout_text.isdigit():
        raise BadInput(f"FA_SQLSERVER_LOGIN_TIMEOUT must be whole seconds (got {timeout_text!r})")
    driver = (env.get("FA_SQLSERVER_DRIVER") or default_of(SqlServerConfig, "driver")).strip()
    if any(ch in driver for ch in ";{}="):
        raise BadInput(f"FA_SQLSERVER_DRIVER is not an ODBC driver name (got {driver!r})")
    return SqlServerConfig(
        host=host,
        port=port,
        database=_db_name(env, "FA_SQLSERVER_DATABASE", default_of(SqlServerConfig, "database")),
        source_database=source_database_name(env),
        user=user,
        password=password,
        trusted_connection=trusted,
        encrypt=encrypt,
        trust_cert=_flag(env, "FA_SQLSERVER_TRUST_CERT", default_of(SqlServerConfig, "trust_cert")),
        driver=driver,
        login_timeout=int(timeout_text),
    )


# FA_SQLSERVER_ENCRYPT -> the Encrypt= value, the same table as the dbt profiles'
# `encrypt:` (dbt_project/profiles.yml, profiles.yml.example; a test keeps them equal).
ENCRYPT_VALUES = {"": "yes", "yes": "yes", "true": "yes", "1": "yes", "mandatory": "yes",
                  "no": "no", "false": "no", "0": "no", "optional": "no"}


def encrypt_option(raw: str | None) -> str:
    """``yes`` or ``no`` for FA_SQLSERVER_ENCRYPT (unset: yes); BadInput otherwise.

    ``strict`` (TDS 8.0: SQL Server 2022 and later, Azure SQL; ODBC Driver 18.1+) is
    refused: dbt-sqlserver 1.11.3 can only send Encrypt=yes or no, and dbt and Python must
    connect the same way.
    """
    text = (raw or "").strip().lower()
    if text == "strict":
        raise BadInput("FA_SQLSERVER_ENCRYPT=strict is not supported: dbt-sqlserver 1.11.3 can "
                       "only send Encrypt=yes or no, and dbt and Python must connect alike; "
                       "use yes (with a certificate the client trusts), see docs/sqlserver.md")
    if text not in ENCRYPT_VALUES:
        raise BadInput(f"FA_SQLSERVER_ENCRYPT must be yes or no (got {raw!r})")
    return ENCRYPT_VALUES[text]


def source_database_name(env: Mapping[str, str] | None = None) -> str:
    """The source database (dbt var ``source_database``): FA_SQLSERVER_SOURCE_DATABASE."""
    env = os.environ if env is None else env
    return _db_name(env, "FA_SQLSERVER_SOURCE_DATABASE", default_of(SqlServerConfig, "source_database"))


def mask_secrets(text: str, secrets: Sequence[str | None] = ()) -> str:
    """``text`` with every PWD=/Password= value and every given secret replaced by ***."""
    out = re.sub(r"(?i)\b(PWD|Password)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)", r"\1=***", str(text))
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


def sqlalchemy_url(cfg: SqlServerConfig, database: str):
    """The ``mssql+pyodbc`` URL of one database (its repr masks the password)."""
    from sqlalchemy.engine import URL

    query = {
        "driver": cfg.driver,
        "Encrypt": cfg.encrypt,
        "TrustServerCertificate": "yes" if cfg.trust_cert else "no",
        "APP": "first-buy",
    }
    return URL.create(
        "mssql+pyodbc",
        username=None if cfg.trusted_connection else cfg.user,
        password=None if cfg.trusted_connection else cfg.password,
        host=cfg.host,
        port=cfg.port,
        database=database,
        query=query,
    )


def odbc_connection_string(cfg: SqlServerConfig, database: str) -> str:
    """The ODBC connection string pyodbc receives (for docs and tests; contains the password)."""
    from sqlalchemy.dialects.mssql.pyodbc import MSDialect_pyodbc

    args, _kwargs = MSDialect_pyodbc().create_connect_args(sqlalchemy_url(cfg, database))
    return args[0]


def _load_pyodbc() -> Any:
    """Import pyodbc, turning a missing ODBC driver manager into a clear BadInput."""
    try:
        import pyodbc  # noqa: F401  (needs libodbc / unixODBC on Linux and macOS)
    except ImportError as exc:
        raise BadInput(
            f"pyodbc cannot be loaded ({exc}): install the ODBC driver manager (unixODBC on "
            "Linux) and Microsoft ODBC Driver 18 for SQL Server, see docs/sqlserver.md"
        ) from None
    return pyodbc


class _MaskSecrets(logging.Filter):
    """Mask PWD=... and the password in a log record (SQLAlchemy's pool logs a driver's
    connect error at DEBUG, and a driver may quote the connection string in it)."""

    def __init__(self) -> None:
        super().__init__("first-buy-mask")
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = mask_secrets(text, sorted(self.secrets))
        if masked != text:
            record.msg, record.args = masked, ()
        return True


_MASK = _MaskSecrets()


def _mask_sqlalchemy_logs(engine: Any, password: str | None) -> None:
    """Attach the mask to the loggers this engine and its pool write records to."""
    if password:
        _MASK.secrets.add(password)
    for obj in (engine, engine.pool):
        cls = type(obj)
        for name in (f"{cls.__module__}.{cls.__name__}", getattr(obj, "logging_name", None) and
                     f"{cls.__module__}.{cls.__name__}.{obj.logging_name}"):
            if name and _MASK not in logging.getLogger(name).filters:
                logging.getLogger(name).addFilter(_MASK)


def _engine(cfg: SqlServerConfig, database: str):
    pyodbc = _load_pyodbc()
    from sqlalchemy import create_engine

    engine = create_engine(
        sqlalchemy_url(cfg, database),
        module=pyodbc,
        fast_executemany=True,        # pyodbc parameter arrays: one round trip per chunk
        pool_pre_ping=True,
        connect_args={"timeout": cfg.login_timeout},
    )
    _mask_sqlalchemy_logs(engine, cfg.password)
    return engine


def get_engine(env: Mapping[str, str] | None = None):
    """SQLAlchemy engine of the FA (target) database, as in the seed's db_connection."""
    cfg = sqlserver_config(env)
    return _engine(cfg, cfg.database)


def get_engine_source(env: Mapping[str, str] | None = None):
    """SQLAlchemy engine of the source database (Provisionen); the pipeline only reads it."""
    cfg = sqlserver_config(env)
    return _engine(cfg, cfg.source_database)


# ---------------------------------------------------------------------------------------
# Values and statements
# ---------------------------------------------------------------------------------------
def _py_value(value: Any) -> Any:
    """One cell as a value pyodbc binds: NaN/NaT/NA -> None, numpy scalars -> Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (str, int, Decimal, datetime, date, bytes)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _py_value(value.item())
    return value


def rows_of(df: pd.DataFrame) -> list[tuple]:
    """``df`` as a list of row tuples of plain Python values (shape: len(df) x ncols)."""
    cols = [df[c].astype(object).tolist() for c in df.columns]
    return [tuple(_py_value(v) for v in row) for row in zip(*cols)]


# ODBC SQL type codes (the values of pyodbc.SQL_*; fixed by the ODBC standard, so no import).
SQL_CHAR, SQL_VARCHAR, SQL_WCHAR, SQL_WVARCHAR = 1, 12, -8, -9
SQL_DECIMAL, SQL_INTEGER, SQL_SMALLINT, SQL_TINYINT, SQL_BIGINT, SQL_BIT = 3, 4, 5, -6, -5, -7
SQL_REAL, SQL_DOUBLE = 7, 8
SQL_TYPE_DATE, SQL_TYPE_TIMESTAMP = 91, 93
# Fixed-size types: (SQL type, the column size the driver itself gives the type). msodbcsql
# checks sizes on SQLBindParameter (a DATE declared with size 0 fails with HY104).
_FIXED = {"int": (SQL_INTEGER, 10), "smallint": (SQL_SMALLINT, 5), "tinyint": (SQL_TINYINT, 3),
          "bigint": (SQL_BIGINT, 19), "bit": (SQL_BIT, 1), "float": (SQL_DOUBLE, 15),
          "real": (SQL_REAL, 7), "date": (SQL_TYPE_DATE, 10)}
_STRINGS = {"varchar": SQL_VARCHAR, "char": SQL_CHAR, "nvarchar": SQL_WVARCHAR, "nchar": SQL_WCHAR}


def _int(value: Any) -> int:
    return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def input_size(kind: tuple[str, int, int, int] | None) -> tuple[int, int, int] | None:
    """The pyodbc ``setinputsizes`` entry (sql type, size, decimal digits) of a column type.

    Sizes are the ones msodbcsql gives the type itself: fixed types their ODBC column size
    (DATE 10, INT 10, BIGINT 19, BIT 1, FLOAT 15, ...), DATETIME2(n) 19 or 20 + n with n
    digits, DATETIME 23/3, SMALLDATETIME 16/0, DECIMAL its precision and scale, strings
    their length (VARCHAR up to 8000, NVARCHAR up to 4000); (MAX) strings size 0, which
    msodbcsql reads as unlimited. Unknown types None (described by the driver).
    """
    if kind is None:
        return None
    name, chars, prec, scale = kind
    if name in _FIXED:
        sql_type, size = _FIXED[name]
        return (sql_type, size, 0)
    if name in _STRINGS:
        return (_STRINGS[name], 0 if chars in (-1, 0) else chars, 0)
    if name in ("decimal", "numeric"):
        return (SQL_DECIMAL, prec, scale)
    if name == "smalldatetime":
        return (SQL_TYPE_TIMESTAMP, 16, 0)
    if name in ("datetime2", "datetime"):
        digits = scale if name == "datetime2" else 3
        return (SQL_TYPE_TIMESTAMP, 20 + digits if digits else 19, digits)
    return None


def _bind(value: Any, kind: tuple[str, int, int, int] | None) -> Any:
    """``value`` converted to the Python type its column binds cleanly with fast_executemany.

    pyodbc's parameter arrays take one C type per column, so every value of a column must
    be of the same Python type: dates as ``date``, timestamps as ``datetime``, decimals as
    ``Decimal`` (rounded half up to the scale, as SQL Server converts), integers as ``int``,
    floats as ``float``, text as ``str``.
    """
    if value is None or kind is None:
        return value
    name, _chars, _prec, scale = kind
    if name == "date":
        if isinstance(value, datetime):
            return value.date()
        return date.fromisoformat(value[:10]) if isinstance(value, str) else value
    if name in ("datetime2", "datetime", "smalldatetime"):
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day)
        return value
    if name in ("decimal", "numeric") and isinstance(value, (float, int)):
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(int(value))
        return exact.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if name in ("int", "bigint", "smallint", "tinyint", "bit"):
        if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
            return int(value)
        return value
    if name in ("float", "real") and isinstance(value, (int, Decimal)):
        return float(value)
    if name in _STRINGS and not isinstance(value, str):
        return value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    return value


def check_params(statement: str, n_params: int) -> None:
    """Refuse a statement SQL Server would reject for having too many parameters."""
    if n_params >= MAX_PARAMS:
        raise BadInput(
            f"{n_params} parameters in one statement; SQL Server allows fewer than "
            f"{MAX_PARAMS}: {statement[:80]}"
        )


def stage_name(table: str) -> str:
    """The session-local staging table of ``table``."""
    return f"#stage_{ident(table)}"[:116]


# ---------------------------------------------------------------------------------------
# The Database implementation
# ---------------------------------------------------------------------------------------
class SqlServerDatabase(Database):
    """The FA database on SQL Server, over one DBAPI (pyodbc) connection.

    ``connection`` is the pyodbc connection itself (or anything with ``cursor()``,
    ``commit()``, ``rollback()``, ``close()`` and an ``autocommit`` attribute, as the fake
    of the unit tests), never a pool proxy: its ``autocommit`` must be the driver's.
    ``on_close`` runs after the connection is closed (open_sqlserver_target: dispose the
    engine).
    Outside :meth:`transaction` every statement autocommits; inside, nothing is committed
    until the block ends without an exception, and everything is rolled back otherwise.
    """

    dialect = "sqlserver"

    def __init__(self, connection: Any, chunk_size: int = default_of(Settings, "write_chunk_size"),
                 secrets: Sequence[str] = (),
                 on_close: Callable[[], None] | None = None):
        if not isinstance(chunk_size, int) or chunk_size <= 0:
            raise BadInput(f"write chunk size must be a positive whole number (got {chunk_size!r})")
        self._con = connection
        self._on_close = on_close
        self._chunk = chunk_size
        self._secrets = tuple(s for s in secrets if s)
        self._in_tx = False
        self._con.autocommit = True

    # Primitives -------------------------------------------------------------------------
    def _cursor(self) -> Any:
        return self._con.cursor()

    def _fail(self, exc: Exception, sql: str) -> DataError:
        text = mask_secrets(str(exc), self._secrets)
        return DataError(f"SQL Server: {text} (statement: {sql.strip()[:120]})")

    def _run(self, sql: str, params: Sequence, read: Callable[[Any], Any]) -> Any:
        """Execute one statement on its own cursor and return ``read(cursor)``.

        Parameters are converted and counted first (BadInput over the limit); driver errors
        become DataError with the statement named; the cursor is always closed.
        """
        params = [_py_value(p) for p in params]
        check_params(sql, len(params))
        cur = self._cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
            return read(cur)
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._fail(exc, sql) from None
            raise
        finally:
            cur.close()

    def query_df(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        """Run a query; DATE/DATETIME columns come back as datetime64, DECIMAL as float.

        Those are the dtypes DuckDB returns, so callers see the same frame on both engines.
        """
        def read(cur: Any) -> tuple[list, list, list] | None:
            if cur.description is None:
                return None
            return ([d[0] for d in cur.description], [d[1] for d in cur.description],
                    [tuple(r) for r in cur.fetchall()])

        result = self._run(sql, params, read)
        if result is None:
            return pd.DataFrame()
        names, kinds, rows = result
        df = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(
            {n: pd.Series([], dtype=object) for n in names}
        )
        for name, kind in zip(names, kinds):
            if kind in (date, datetime):
                df[name] = pd.to_datetime(df[name])
            elif kind is Decimal:
                df[name] = pd.to_numeric(df[name], errors="coerce").astype("float64")
        return df

    def scalar(self, sql: str, params: Sequence = ()) -> Any:
        """The first column of the first row (None when no row), without a DataFrame."""
        row = self._run(sql, params,
                        lambda cur: cur.fetchone() if cur.description is not None else None)
        return row[0] if row else None

    def execute(self, sql: str, params: Sequence = ()) -> None:
        self._run(sql, params, lambda cur: None)

    def table_exists(self, table: str) -> bool:
        df = self.query_df(
            "SELECT 1 AS found FROM INFORMATION_SCHEMA.TABLES "
            "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            [SCHEMA, ident(table)],
        )
        return not df.empty

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; nested use joins the outer one."""
        if self._in_tx:
            yield
            return
        self._con.autocommit = False  # pyodbc: the next statement opens a transaction
        self._in_tx = True
        try:
            yield
        except BaseException:
            try:
                self._con.rollback()
            except Exception:  # a dead connection: the server rolls back by itself
                pass
            raise
        else:
            self._con.commit()
        finally:
            self._in_tx = False
            self._con.autocommit = True

    # Bulk writing -----------------------------------------------------------------------
    def column_types(self, table: str) -> dict[str, tuple[str, int, int, int]]:
        """{column: (type name, max characters or -1 for MAX, precision, scale)} of dbo.table."""
        df = self.query_df(
            "SELECT c.name AS col, TYPE_NAME(c.user_type_id) AS type_name, "
            "COLUMNPROPERTY(c.object_id, c.name, 'CharMaxLen') AS char_len, "
            "c.[precision] AS prec, c.scale AS col_scale "
            "FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(?) ORDER BY c.column_id",
            [f"{SCHEMA}.{ident(table)}"],
        )
        return {
            str(r.col): (str(r.type_name).lower(), _int(r.char_len), _int(r.prec), _int(r.col_scale))
            for r in df.itertuples(index=False)
        }

    def _stage(self, table: str, df: pd.DataFrame) -> tuple[str, str]:
        """Load ``df`` into a fresh #temp table shaped like the target's columns.

        Returns (staging table name, column list). ``SELECT TOP 0 ... INTO`` gives the stage
        exactly the target's types. The parameter types are given to pyodbc explicitly
        (``setinputsizes``, from the target's sys.columns): SQL Server cannot describe the
        parameters of a statement on a #temp table, and without types fast_executemany
        falls back to 255-character strings (pyodbc issues #295, #380). Values are
        converted to what each type binds cleanly (DATE -> date, DECIMAL -> Decimal).
        The stage is created by a statement without parameters: one with parameters runs
        inside sp_prepexec and its #temp table would vanish with that scope.
        """
        cols = [ident(c) for c in df.columns]
        if not cols:
            raise BadInput(f"nothing to write to {table}: the frame has no columns")
        check_params(f"INSERT INTO {stage_name(table)}", len(cols))
        stage = stage_name(table)
        col_sql = ", ".join(cols)
        types = {k.lower(): v for k, v in self.column_types(table).items()}
        missing = [c for c in cols if c.lower() not in types]
        if types and missing:
            raise DataError(f"{SCHEMA}.{table} has no column(s) {', '.join(missing)}")
        self.execute(f"DROP TABLE IF EXISTS {stage}")
        self.execute(f"SELECT TOP 0 {col_sql} INTO {stage} FROM {SCHEMA}.{ident(table)}")
        insert = f"INSERT INTO {stage} ({col_sql}) VALUES ({', '.join('?' for _ in cols)})"
        kinds = [types.get(c.lower()) for c in cols]
        rows = [tuple(_bind(v, k) for v, k in zip(row, kinds)) for row in rows_of(df)]
        cur = self._cursor()
        try:
            cur.fast_executemany = True
            if types:
                cur.setinputsizes([input_size(k) for k in kinds])
            for start in range(0, len(rows), self._chunk):
                cur.executemany(insert, rows[start:start + self._chunk])
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._fail(exc, insert) from None
            raise
        finally:
            cur.close()
        return stage, col_sql

    def _insert_from_stage(self, table: str, stage: str, col_sql: str) -> None:
        self.execute(
            f"INSERT INTO {SCHEMA}.{ident(table)} WITH (TABLOCK) ({col_sql}) "
            f"SELECT {col_sql} FROM {stage}"
        )
        self.execute(f"DROP TABLE {stage}")

    def insert_df(self, table: str, df: pd.DataFrame) -> int:
        """Stage ``df`` and insert it into ``table`` (joins the caller's transaction)."""
        if df.empty:
            return 0
        with self.transaction():
            stage, col_sql = self._stage(table, df)
            self._insert_from_stage(table, stage, col_sql)
        return len(df)

    def replace_rows(
        self, table: str, df: pd.DataFrame, where_sql: str, where_params: Sequence = ()
    ) -> int:
        """Stage ``df``, then DELETE the rows matching ``where_sql`` and INSERT the stage.

        All of it is one transaction: on any error nothing is deleted and nothing inserted.
        Staging comes first so the target is locked only for the DELETE + INSERT.
        """
        with self.transaction():
            staged = self._stage(table, df) if not df.empty else None
            self.execute(f"DELETE FROM {SCHEMA}.{ident(table)} WHERE {where_sql}", where_params)
            if staged is not None:
                self._insert_from_stage(table, *staged)
        return len(df)

    def append_rows(self, table: str, df: pd.DataFrame) -> int:
        with self.transaction():
            return self.insert_df(table, df)

    # Pipeline lock (hook point) ---------------------------------------------------------
    @contextmanager
    def pipeline_lock(self, name: str = "first_buy_pipeline", timeout_ms: int = 0) -> Iterator[None]:
        """Hold an exclusive session-level application lock (sp_getapplock) while inside.

        Raises LockHeld when another session holds it for longer than ``timeout_ms``.
        """
        sql = (
            "SET NOCOUNT ON; DECLARE @rc INT; "
            "EXEC @rc = sp_getapplock @Resource = ?, @LockMode = 'Exclusive', "
            "@LockOwner = 'Session', @LockTimeout = ?; SELECT @rc AS rc"
        )
        got = self.query_df(sql, [ident(name), int(timeout_ms)])
        rc = int(got.iloc[0, 0]) if not got.empty else -999
        if rc < 0:
            raise LockHeld(f"another pipeline run holds the lock {name!r} on SQL Server "
                           f"(sp_getapplock {rc}); wait for it to finish, then rerun")
        try:
            yield
        finally:
            self.execute(
                "EXEC sp_releaseapplock @Resource = ?, @LockOwner = 'Session'", [ident(name)]
            )

    def close(self) -> None:
        """Close the connection, then dispose the engine it came from (if any)."""
        try:
            self._con.close()
        finally:
            if self._on_close is not None:
                self._on_close()


def _is_driver_error(exc: Exception) -> bool:
    """True for a DBAPI error (pyodbc.Error and friends), which may quote server text."""
    return any(cls.__name__ in ("Error", "DatabaseError", "InterfaceError")
               for cls in type(exc).__mro__)


def open_sqlserver_target(settings: Settings, env: Mapping[str, str] | None = None) -> SqlServerDatabase:
    """Connect to the FA database (called by ml.db.open_target when FA_ENGINE=sqlserver)."""
    cfg = sqlserver_config(env)
    return open_sqlserver_database(cfg, cfg.database, settings.write_chunk_size)


def open_sqlserver_database(cfg: SqlServerConfig, database: str,
                            chunk_size: int = default_of(Settings, "write_chunk_size")) -> SqlServerDatabase:
    """A Database over one connection to ``database`` (the FA database, or the test
    source database of the live suite).

    The Database gets the pyodbc connection itself, detached from SQLAlchemy's pool:
    ``autocommit`` set on the pool's proxy would never reach pyodbc (DDL outside a
    transaction would wait for a later commit, reads would hold a transaction open, and
    the pool's reset on return would roll back). Its close() closes that connection and
    disposes the engine made here.
    """
    engine = _engine(cfg, database)
    try:
        fairy = engine.raw_connection()
    except Exception as exc:
        engine.dispose()
        raise DataError(
            f"cannot connect to SQL Server {cfg.host} database {database}: "
            f"{mask_secrets(str(getattr(exc, 'orig', exc)), [cfg.password])}"
        ) from None
    fairy.detach()  # the pool forgets it: closing it closes the driver connection
    return SqlServerDatabase(fairy.dbapi_connection, chunk_size=chunk_size,
                             secrets=[cfg.password or ""], on_close=engine.dispose)


APPLOCK_RESOURCE = "first_buy_pipeline"


def applock_names(fund_codes: Sequence[str] = (), shared: bool = True) -> list[str]:
    """The applocks of a command: the global one when it writes the models shared by all
    funds (``shared``), then one per fund it writes (``first_buy_pipeline_<CODE>``, sorted,
    so two commands always take them in the same order). Funds may run side by side in
    their own commands (score, qc, train, ...); a command that builds the shared dbt models
    (backfill, daily) excludes every other such command."""
    names = [APPLOCK_RESOURCE] if shared else []
    return names + [f"{APPLOCK_RESOURCE}_{code}" for code in sorted(set(fund_codes))]


@contextmanager
def sqlserver_applock(settings: Settings, command: str,
                      env: Mapping[str, str] | None = None,
                      names: Sequence[str] | None = None) -> Iterator[None]:
    """The pipeline lock on SQL Server (called by ml.lock.pipeline_lock).

    A dedicated connection to the FA database takes ``sp_getapplock`` with
    @LockMode='Exclusive', @LockOwner='Session', @LockTimeout=0 on each of ``names``
    (default: the global one, see applock_names): a second writer fails at once
    (LockHeld, exit code 6) instead of queueing. The locks belong to the session, so a
    killed run releases them when the server drops its connection. ``command`` only names
    the holder in the log.
    """
    db = open_sqlserver_target(settings, env)
    try:
        with ExitStack() as stack:
            for name in names or [APPLOCK_RESOURCE]:
                stack.enter_context(db.pipeline_lock(name, timeout_ms=0))
                print(f"lock: {name} taken on SQL Server for '{command}'",
                      file=sys.stderr, flush=True)
            yield
    finally:
        db.close()
