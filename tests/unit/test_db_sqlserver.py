"""The SQL Server writer, tested on what it sends.

No SQL Server is reachable here: a fake DBAPI connection (tools/fake_dbapi.py) records
every statement with its parameters, every commit/rollback/autocommit switch, which
statements a commit made durable, and can be told to fail at a given statement.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlglot

from ml.config import load_settings
from ml.db import create_table_sql, open_target
from ml.db_sqlserver import (
    MAX_PARAMS,
    SqlServerDatabase,
    mask_secrets,
    odbc_connection_string,
    open_sqlserver_target,
    rows_of,
    sqlalchemy_url,
    sqlserver_config,
)
from ml.errors import BadInput, DataError, LockHeld
from tools.fake_dbapi import FakeConnection
from tools.tsql_scan import ERROR, check_sql

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "FA_SQLSERVER_HOST": "sql01.example.local",
    "FA_SQLSERVER_USER": "fa_writer",
    "FA_SQLSERVER_PASSWORD": "s3cr;et}pw",
}


def frame(n: int) -> pd.DataFrame:
    """n score rows for Score_Date 2025-08-20 (4 columns)."""
    return pd.DataFrame({
        "Score_Date": [date(2025, 8, 20)] * n,
        "Depot_Number": [f"{i:08d}" for i in range(n)],
        "p_buy_7d": np.linspace(0.0, 0.5, n),
        "scored_at": [pd.Timestamp("2025-08-21 06:00:00")] * n,
    })


SCORE_TYPES = [("Score_Date", "date", 0, 10, 0), ("Depot_Number", "varchar", 64, 0, 0),
               ("p_buy_7d", "float", 0, 53, 0), ("scored_at", "datetime2", 0, 27, 3)]
TYPES_SQL = "FROM sys.columns AS c"


def with_types(con: FakeConnection, columns=SCORE_TYPES) -> FakeConnection:
    """The fake answers the writer's sys.columns query with these target column types."""
    con.respond(TYPES_SQL, ["col", "type_name", "char_len", "prec", "col_scale"],
                [tuple(c) for c in columns], types=[str, str, int, int, int])
    return con


def replace(con: FakeConnection, n: int, chunk: int = 10) -> int:
    with_types(con)
    db = SqlServerDatabase(con, chunk_size=chunk)
    return db.replace_rows("CD_FA_BUY_DEMO_ML", frame(n), "Score_Date = ?", [date(2025, 8, 20)])


# ---- what a successful replace sends -------------------------------------------------
def test_replace_stages_in_chunks_then_deletes_and_inserts_with_tablock():
    con = FakeConnection()
    assert replace(con, 25, chunk=10) == 25
    sqls = [c.sql for c in con.statements]
    assert TYPES_SQL in sqls[0] and con.statements[0].params == ["dbo.CD_FA_BUY_DEMO_ML"]
    assert sqls[1:] == [
        "DROP TABLE IF EXISTS #stage_CD_FA_BUY_DEMO_ML",
        "SELECT TOP 0 Score_Date, Depot_Number, p_buy_7d, scored_at INTO #stage_CD_FA_BUY_DEMO_ML "
        "FROM dbo.CD_FA_BUY_DEMO_ML",
        *["INSERT INTO #stage_CD_FA_BUY_DEMO_ML (Score_Date, Depot_Number, p_buy_7d, scored_at) "
          "VALUES (?, ?, ?, ?)"] * 3,
        "DELETE FROM dbo.CD_FA_BUY_DEMO_ML WHERE Score_Date = ?",
        "INSERT INTO dbo.CD_FA_BUY_DEMO_ML WITH (TABLOCK) (Score_Date, Depot_Number, p_buy_7d, "
        "scored_at) SELECT Score_Date, Depot_Number, p_buy_7d, scored_at FROM #stage_CD_FA_BUY_DEMO_ML",
        "DROP TABLE #stage_CD_FA_BUY_DEMO_ML",
    ]
    many = [c for c in con.statements if c.kind == "executemany"]
    assert [len(c.params) for c in many] == [10, 10, 5]
    assert all(c.fast_executemany for c in many)
    # every row reached the stage exactly once, in order
    sent = [row[1] for c in many for row in c.params]
    assert sent == [f"{i:08d}" for i in range(25)]


def test_replace_is_one_transaction_committed_once():
    con = FakeConnection()
    replace(con, 3)
    assert con.count("commit") == 1 and con.count("rollback") == 0
    # every statement ran with autocommit off, i.e. inside the transaction ...
    assert all(not c.autocommit for c in con.statements)
    # ... which was opened before the first and closed after the commit
    kinds = [(c.kind, c.params) if c.kind == "autocommit" else c.kind for c in con.calls]
    assert kinds[:2] == [("autocommit", True), ("autocommit", False)]
    assert kinds[-2:] == ["commit", ("autocommit", True)]
    assert len(con.committed) == len(con.statements)


def test_chunk_size_comes_from_settings(monkeypatch, tmp_path):
    cfg = tmp_path / "fund.yml"
    cfg.write_text((ROOT / "config" / "fund.yml").read_text().replace(
        "write_chunk_size: 10000", "write_chunk_size: 7"))
    settings = load_settings({"FA_CONFIG": str(cfg), "FA_ENGINE": "sqlserver"})
    con = FakeConnection()

    class Fairy:  # SQLAlchemy's pool proxy: the writer takes the driver connection out
        dbapi_connection = con

        def detach(self):
            pass

    class Engine:
        def raw_connection(self):
            return Fairy()

        def dispose(self):
            pass

    monkeypatch.setattr("ml.db_sqlserver._engine", lambda cfg, database: Engine())
    db = open_sqlserver_target(settings, env=ENV)
    db.replace_rows("CD_FA_BUY_DEMO_ML", frame(20), "Score_Date = ?", [date(2025, 8, 20)])
    assert [len(c.params) for c in con.statements if c.kind == "executemany"] == [7, 7, 6]


def test_empty_frame_only_deletes():
    con = FakeConnection()
    assert replace(con, 0) == 0
    assert [c.sql for c in con.statements] == ["DELETE FROM dbo.CD_FA_BUY_DEMO_ML WHERE Score_Date = ?"]
    assert con.count("commit") == 1


def test_append_is_one_transaction_with_tablock():
    con = FakeConnection()
    db = SqlServerDatabase(con, chunk_size=4)
    assert db.append_rows("FA_MODEL_EVAL", frame(9)) == 9
    assert con.count("commit") == 1
    assert [len(c.params) for c in con.statements if c.kind == "executemany"] == [4, 4, 1]
    assert not any(c.sql.startswith("DELETE") for c in con.statements)
    assert any("INSERT INTO dbo.FA_MODEL_EVAL WITH (TABLOCK)" in c.sql for c in con.statements)


def test_insert_df_joins_the_callers_transaction():
    con = FakeConnection()
    db = SqlServerDatabase(con, chunk_size=100)
    with db.transaction():
        db.execute("DELETE FROM dbo.FA_MODEL_REGISTRY WHERE version = ?", ["v1"])
        db.insert_df("FA_MODEL_REGISTRY", frame(2))
        assert con.count("commit") == 0
    assert con.count("commit") == 1


# ---- failures roll everything back ---------------------------------------------------
@pytest.mark.parametrize("fail_at, label", [
    (3, "creating the stage"),
    (5, "second chunk"),
    (7, "DELETE"),
    (8, "INSERT WITH (TABLOCK)"),
])
def test_failure_rolls_back_and_commits_nothing(fail_at, label):
    con = FakeConnection(fail_at=fail_at, error_text="[42000] boom near 'PWD=s3cr;et}pw'")
    with pytest.raises(DataError) as err:
        replace(con, 25, chunk=10)
    assert con.count("rollback") == 1, label
    assert con.count("commit") == 0, label
    assert con.committed == [], label
    assert "s3cr" not in str(err.value) and "PWD=***" in str(err.value)
    assert con.autocommit is True  # the connection is usable again afterwards


def test_failure_before_delete_sends_no_delete():
    con = FakeConnection(fail_at=5)
    with pytest.raises(DataError):
        replace(con, 25, chunk=10)
    assert not any(c.sql.startswith("DELETE") for c in con.statements)


def test_non_driver_errors_also_roll_back():
    con = FakeConnection()
    db = SqlServerDatabase(con)
    with pytest.raises(ZeroDivisionError):
        with db.transaction():
            db.execute("DELETE FROM dbo.T WHERE a = ?", [1])
            1 / 0
    assert con.count("rollback") == 1 and con.committed == []


def test_rollback_failure_does_not_hide_the_error():
    con = FakeConnection(fail_at=1)

    def broken_rollback():
        raise OSError("link down")

    con.rollback = broken_rollback
    db = SqlServerDatabase(con)
    with pytest.raises(DataError, match="simulated failure"):
        db.replace_rows("T", frame(1), "Score_Date = ?", [date(2025, 8, 20)])


def test_parameter_types_come_from_the_target_and_values_fit_them():
    """#temp tables cannot be described by the server: the writer states every type."""
    con = with_types(FakeConnection(), SCORE_TYPES + [
        ("Cash", "decimal", 0, 18, 2), ("Note", "nvarchar", -1, 0, 0), ("Code", "nchar", 12, 0, 0),
        ("N", "int", 0, 10, 0)])
    df = frame(2).assign(Cash=[1.005, 2.0], Note=["x" * 5000, None], Code=["LU", "DE"], N=[1.0, 2.0])
    df["Score_Date"] = pd.to_datetime(df["Score_Date"])  # datetime64, as DuckDB reads give
    SqlServerDatabase(con).append_rows("CD_FA_BUY_DEMO_ML", df)
    many = [c for c in con.statements if c.kind == "executemany"][0]
    assert many.input_sizes == [(91, 10, 0), (12, 64, 0), (8, 15, 0), (93, 23, 3),
                                (3, 18, 2), (-9, 0, 0), (-8, 12, 0), (4, 10, 0)]
    first = many.params[0]
    assert type(first[0]) is date and first[0] == date(2025, 8, 20)
    assert first[4] == Decimal("1.01")  # rounded half up, as SQL Server converts
    assert type(first[4]) is Decimal and many.params[1][4] == Decimal("2.00")
    assert len(first[5]) == 5000 and first[7] == 1 and type(first[7]) is int


def test_every_value_of_a_column_gets_the_python_type_of_its_sql_type():
    from ml.db_sqlserver import _bind

    assert _bind("2025-08-20", ("date", 0, 10, 0)) == date(2025, 8, 20)
    assert _bind(date(2025, 8, 20), ("datetime2", 0, 27, 3)) == datetime(2025, 8, 20)
    assert _bind(True, ("int", 0, 10, 0)) == 1 and type(_bind(True, ("int", 0, 10, 0))) is int
    assert type(_bind(3, ("float", 0, 53, 0))) is float
    assert _bind(7, ("varchar", 64, 0, 0)) == "7"
    assert _bind(2, ("decimal", 0, 18, 2)) == Decimal("2.00")
    assert _bind(-0.125, ("decimal", 0, 18, 2)) == Decimal("-0.13")  # half away from zero


def test_unknown_column_is_a_data_error_before_anything_is_written():
    con = with_types(FakeConnection())
    with pytest.raises(DataError, match="no column"):
        SqlServerDatabase(con).append_rows("CD_FA_BUY_DEMO_ML", frame(1).assign(Extra=1))
    assert not any(c.kind == "executemany" for c in con.statements)
    assert con.committed == [] or all(c.sql.startswith("SELECT") for c in con.committed)


# ---- parameter counts ----------------------------------------------------------------
def test_every_statement_stays_under_the_parameter_limit():
    con = FakeConnection()
    replace(con, 25_000, chunk=10_000)
    for call in con.statements:
        if call.kind == "executemany":
            # one statement per row: each carries one row's parameters
            assert {len(row) for row in call.params} == {call.sql.count("?")} == {4}
            assert len(call.params) <= 10_000
        else:
            assert len(call.params) == call.sql.count("?") < MAX_PARAMS
        # never a multi-row VALUES list
        assert not re.search(r"VALUES\s*\([^)]*\)\s*,\s*\(", call.sql)


def test_frame_too_wide_for_one_statement_is_refused_before_sending():
    wide = pd.DataFrame([list(range(MAX_PARAMS))], columns=[f"c{i}" for i in range(MAX_PARAMS)])
    con = FakeConnection()
    with pytest.raises(BadInput, match="2100"):
        SqlServerDatabase(con).append_rows("T", wide)
    assert con.statements == [] and con.count("rollback") == 1


def test_query_with_too_many_parameters_is_refused():
    con = FakeConnection()
    with pytest.raises(BadInput):
        SqlServerDatabase(con).query_df("SELECT 1", list(range(MAX_PARAMS)))
    assert con.statements == []


def test_no_multi_row_to_sql_anywhere():
    for path in list((ROOT / "ml").glob("*.py")) + [ROOT / "orchestrate.py"]:
        text = path.read_text()
        assert not re.search(r"method\s*=\s*[\"']multi", text), path
    assert ".to_sql(" not in (ROOT / "ml" / "db_sqlserver.py").read_text()


# ---- values --------------------------------------------------------------------------
def test_rows_are_plain_python_values_with_none_for_missing():
    df = pd.DataFrame({
        "d": [date(2025, 1, 2), None],
        "f": [1.5, np.nan],
        "i": pd.array([3, None], dtype="Int64"),
        "s": pd.array(["a", None], dtype="str"),
        "t": [pd.Timestamp("2025-01-02 03:04:05"), pd.NaT],
        "m": [Decimal("1.10"), None],
    })
    rows = rows_of(df)
    assert rows[0] == (date(2025, 1, 2), 1.5, 3, "a", datetime(2025, 1, 2, 3, 4, 5), Decimal("1.10"))
    assert type(rows[0][2]) is int and type(rows[0][4]) is datetime
    assert rows[1] == (None,) * 6


def test_query_df_returns_duckdb_like_dtypes():
    con = FakeConnection()
    con.respond("FROM dbo.CD_FA_AGG_BUY_DEMO", ["Score_Date", "Cash", "Depot_Number"],
                [(date(2025, 8, 20), Decimal("10.50"), "001")], types=[date, Decimal, str])
    df = SqlServerDatabase(con).query_df("SELECT Score_Date, Cash, Depot_Number FROM dbo.CD_FA_AGG_BUY_DEMO")
    assert str(df["Score_Date"].dtype).startswith("datetime64")
    assert df["Cash"].dtype == "float64" and df["Cash"].iloc[0] == 10.5
    assert df["Depot_Number"].iloc[0] == "001"


def test_scalar_returns_the_first_value_or_none():
    con = FakeConnection()
    con.respond("count(*) FROM dbo.CD_FA_AGG_BUY_DEMO", ["n"], [(42,)], types=[int])
    db = SqlServerDatabase(con)
    assert db.scalar("SELECT count(*) FROM dbo.CD_FA_AGG_BUY_DEMO WHERE Score_Date BETWEEN ? AND ?",
                     [date(2025, 8, 1), date(2025, 8, 20)]) == 42
    con.respond("FROM dbo.EMPTY", ["n"], [], types=[int])
    assert db.scalar("SELECT n FROM dbo.EMPTY") is None
    with pytest.raises(BadInput):
        db.scalar("SELECT 1", list(range(MAX_PARAMS)))


def test_table_exists_asks_information_schema():
    con = FakeConnection()
    con.respond("INFORMATION_SCHEMA.TABLES", ["found"], [(1,)], types=[int])
    assert SqlServerDatabase(con).table_exists("FA_MODEL_REGISTRY") is True
    assert con.statements[-1].params == ["dbo", "FA_MODEL_REGISTRY"]
    assert SqlServerDatabase(FakeConnection()).table_exists("FA_MODEL_REGISTRY") is False


# ---- DDL and statements are T-SQL ----------------------------------------------------
def test_ddl_parses_as_tsql_with_a_clustered_key():
    ddl = create_table_sql(
        "sqlserver", "FA_MODEL_REGISTRY",
        [("target_code", "key"), ("horizon", "int"), ("version", "key"), ("metrics_json", "text"),
         ("trained_at", "timestamp"), ("auc", "float"), ("amount", "money"), ("train_start", "date")],
        primary_key=["target_code", "horizon", "version"],
    )
    assert "PRIMARY KEY CLUSTERED (target_code, horizon, version)" in ddl
    sqlglot.parse_one(ddl, read="tsql")
    n, findings = check_sql(ddl, "ddl")
    assert n == 1 and [f for f in findings if f.severity == ERROR] == []


def test_every_statement_the_writer_sends_passes_the_tsql_check():
    con = FakeConnection()
    con.respond("sp_getapplock", ["rc"], [(0,)], types=[int])
    db = SqlServerDatabase(con, chunk_size=5)
    db.replace_rows("CD_FA_BUY_DEMO_ML", frame(12), "Score_Date BETWEEN ? AND ?",
                    [date(2025, 8, 1), date(2025, 8, 20)])
    db.append_rows("FA_MODEL_EVAL", frame(3))
    db.table_exists("FA_MODEL_EVAL")
    with db.pipeline_lock():
        pass
    for call in con.statements:
        n, findings = check_sql(call.sql, call.sql[:40])
        assert n >= 1 and [f for f in findings if f.severity == ERROR] == [], call.sql


# ---- connection settings -------------------------------------------------------------
def test_config_needs_a_host_and_a_login():
    with pytest.raises(BadInput, match="FA_SQLSERVER_HOST"):
        sqlserver_config({})
    with pytest.raises(BadInput, match="FA_SQLSERVER_USER"):
        sqlserver_config({"FA_SQLSERVER_HOST": "h"})
    with pytest.raises(BadInput, match="FA_SQLSERVER_ENCRYPT"):
        sqlserver_config({**ENV, "FA_SQLSERVER_ENCRYPT": "maybe"})
    with pytest.raises(BadInput, match="FA_SQLSERVER_DATABASE"):
        sqlserver_config({**ENV, "FA_SQLSERVER_DATABASE": "FA;DROP"})


def test_connection_string_defaults_driver18_encrypted_and_source_provisionen():
    cfg = sqlserver_config(ENV)
    assert cfg.source_database == "Provisionen" and cfg.database == "FA"
    text = odbc_connection_string(cfg, cfg.database)
    assert text.startswith("DRIVER={ODBC Driver 18 for SQL Server};Server=sql01.example.local,1433;Database=FA;")
    assert "Encrypt=yes" in text and "TrustServerCertificate=no" in text
    assert "PWD={s3cr;et}}pw}" in text  # braced: ';' and '}' cannot break the string
    src = odbc_connection_string(cfg, cfg.source_database)
    assert "Database=Provisionen" in src


def test_trusted_connection_sends_no_user():
    cfg = sqlserver_config({"FA_SQLSERVER_HOST": "h", "FA_SQLSERVER_TRUSTED_CONNECTION": "yes",
                            "FA_SQLSERVER_TRUST_CERT": "yes"})
    text = odbc_connection_string(cfg, "FA")
    assert "Trusted_Connection=Yes" in text and "UID=" not in text
    assert "TrustServerCertificate=yes" in text


def test_password_never_shown():
    cfg = sqlserver_config(ENV)
    assert "s3cr" not in repr(cfg)
    assert "s3cr" not in repr(sqlalchemy_url(cfg, "FA"))
    assert "s3cr" not in str(sqlalchemy_url(cfg, "FA"))
    assert mask_secrets("DRIVER={x};PWD={s3cr;et}}pw};Encrypt=yes") == "DRIVER={x};PWD=***;Encrypt=yes"
    assert mask_secrets("login failed for pw s3cr;et}pw", ["s3cr;et}pw"]) == "login failed for pw ***"


def test_missing_odbc_library_is_a_clear_bad_input(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyodbc", None)  # import pyodbc -> ImportError
    settings = load_settings({"FA_ENGINE": "sqlserver"})
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(BadInput, match="ODBC Driver 18.*docs/sqlserver.md"):
        open_target(settings)


def test_connect_failure_is_a_data_error_without_the_password(monkeypatch):
    class Engine:
        def raw_connection(self):
            raise RuntimeError("Login failed; connection string PWD=s3cr;et}pw;")

        def dispose(self):
            pass

    monkeypatch.setattr("ml.db_sqlserver._engine", lambda cfg, database: Engine())
    settings = load_settings({"FA_ENGINE": "sqlserver"})
    with pytest.raises(DataError, match="cannot connect to SQL Server sql01.example.local") as err:
        open_sqlserver_target(settings, env=ENV)
    assert "s3cr" not in str(err.value)


# ---- lock hook -----------------------------------------------------------------------
def test_pipeline_lock_raises_lock_held_when_taken():
    con = FakeConnection()
    con.respond("sp_getapplock", ["rc"], [(-1,)], types=[int])
    with pytest.raises(LockHeld):
        with SqlServerDatabase(con).pipeline_lock("first_buy"):
            pass
    assert not any("sp_releaseapplock" in c.sql for c in con.statements)


def test_pipeline_lock_is_released():
    con = FakeConnection()
    con.respond("sp_getapplock", ["rc"], [(0,)], types=[int])
    with SqlServerDatabase(con).pipeline_lock("first_buy"):
        pass
    assert "sp_releaseapplock" in con.statements[-1].sql


def test_dbt_gets_the_source_database_on_sqlserver(monkeypatch):
    from ml.dbt import dbt_vars

    monkeypatch.setenv("FA_SQLSERVER_SOURCE_DATABASE", "Provisionen_Test")
    assert dbt_vars(load_settings({"FA_ENGINE": "sqlserver"}))["source_database"] == "Provisionen_Test"
    assert "source_database" not in dbt_vars(load_settings({}))  # DuckDB: the attached catalog
    monkeypatch.setenv("FA_SQLSERVER_SOURCE_DATABASE", "x]; drop")
    with pytest.raises(BadInput, match="FA_SQLSERVER_SOURCE_DATABASE"):
        dbt_vars(load_settings({"FA_ENGINE": "sqlserver"}))


def test_named_instance_has_no_port_like_dbt():
    cfg = sqlserver_config({**ENV, "FA_SQLSERVER_HOST": r"sql01\FA", "FA_SQLSERVER_PORT": "1433"})
    assert cfg.port is None
    assert "Server=sql01\\FA;" in odbc_connection_string(cfg, "FA")


# ---- one meaning of FA_SQLSERVER_ENCRYPT for Python and dbt ---------------------------
def _dbt_encrypt(profiles: Path, monkeypatch, value: str) -> str:
    """What dbt-sqlserver sends for this FA_SQLSERVER_ENCRYPT ('yes'/'no'), or 'refused'."""
    import yaml
    from argparse import Namespace

    from dbt.adapters.sqlserver.sqlserver_backend import build_pyodbc_connection_string
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    monkeypatch.setenv("FA_SQLSERVER_ENCRYPT", value)
    for key, val in ENV.items():
        monkeypatch.setenv(key, val)
    set_invocation_context(dict(__import__("os").environ))
    set_from_args(Namespace(), None)
    raw = yaml.safe_load(profiles.read_text())
    try:
        profile = Profile.from_raw_profiles(raw, "first_buy", ProfileRenderer({}),
                                            target_override="sqlserver")
    except Exception:
        return "refused"
    found = re.search(r"(?i);encrypt=(\w+);", build_pyodbc_connection_string(profile.credentials))
    return found.group(1).lower()


def _python_encrypt(value: str) -> str:
    try:
        cfg = sqlserver_config({**ENV, "FA_SQLSERVER_ENCRYPT": value})
    except BadInput:
        return "refused"
    return re.search(r"(?i);Encrypt=(\w+)", odbc_connection_string(cfg, "FA")).group(1).lower()


@pytest.mark.parametrize("profiles", ["dbt_project/profiles.yml", "profiles.yml.example"])
@pytest.mark.parametrize("value", ["yes", "no", "strict", "Strict", "mandatory", "optional",
                                   "true", "false", "1", "0", "", "maybe"])
def test_encrypt_means_the_same_for_python_and_dbt(profiles, value, monkeypatch):
    python = _python_encrypt(value)
    assert python == _dbt_encrypt(ROOT / profiles, monkeypatch, value)
    assert python in ("yes", "no", "refused")
    if value.lower() in ("strict", "maybe"):
        assert python == "refused"  # dbt-sqlserver 1.11.3 can only send Encrypt=yes/no


def test_strict_encryption_is_refused_with_the_reason():
    with pytest.raises(BadInput, match=r"strict.*dbt-sqlserver.*yes"):
        sqlserver_config({**ENV, "FA_SQLSERVER_ENCRYPT": "strict"})


# ---- the writer behind a real SQLAlchemy engine and pool, as in production -------------
def _pooled(monkeypatch, setup=None):
    """open_sqlserver_target over FakePyodbc: SQLAlchemy's real engine, pool and mssql dialect."""
    from tools.fake_dbapi import FakePyodbc

    fake = FakePyodbc(setup=setup)
    monkeypatch.setitem(sys.modules, "pyodbc", fake)
    db = open_sqlserver_target(load_settings({"FA_ENGINE": "sqlserver"}), env=ENV)
    return fake, db


def test_autocommit_reaches_the_driver_connection_behind_the_pool(monkeypatch):
    """DDL outside a transaction is durable at once, reads leave no transaction open, a
    transaction commits once, and close() loses nothing (defect: .autocommit was set on
    the pool's proxy and never reached pyodbc)."""
    fake, db = _pooled(monkeypatch, setup=with_types)
    con = fake.connections[-1]
    db.ensure_table("CD_FA_BUY_DEMO_ML", [("Score_Date", "date"), ("Depot_Number", "key")],
                    primary_key=["Score_Date", "Depot_Number"])
    assert con.autocommit is True
    assert [c.sql.split()[0] for c in con.committed][-1] == "CREATE"  # durable at once
    db.query_df("SELECT Score_Date FROM dbo.CD_FA_BUY_DEMO_ML")
    assert not con.in_transaction  # a read holds no transaction open
    commits = con.count("commit")
    db.replace_rows("CD_FA_BUY_DEMO_ML", frame(3), "Score_Date = ?", [date(2025, 8, 20)])
    assert con.count("commit") == commits + 1 and not con.in_transaction
    db.close()
    assert con.lost == []  # nothing rolled back on close
    assert all(c.closed for c in fake.connections)  # the engine was disposed: no pooled leftovers


def test_failed_transaction_behind_the_pool_rolls_back_and_commits_nothing(monkeypatch):
    fake, db = _pooled(monkeypatch, setup=lambda c: (with_types(c), setattr(
        c, "fail_when", lambda sql: "WITH (TABLOCK)" in sql)))
    con = fake.connections[-1]
    before = list(con.committed)
    with pytest.raises(DataError, match="simulated failure"):
        db.replace_rows("CD_FA_BUY_DEMO_ML", frame(3), "Score_Date = ?", [date(2025, 8, 20)])
    assert con.committed == before and con.count("rollback") >= 1 and con.autocommit is True
    db.close()
    assert con.closed and con.lost == []


def test_lock_connection_is_closed_and_its_engine_disposed(monkeypatch):
    from ml.db_sqlserver import sqlserver_applock

    fake = __import__("tools.fake_dbapi", fromlist=["FakePyodbc"]).FakePyodbc(
        setup=lambda c: c.respond("sp_getapplock", ["rc"], [(0,)], types=[int]))
    monkeypatch.setitem(sys.modules, "pyodbc", fake)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with sqlserver_applock(load_settings({"FA_ENGINE": "sqlserver"}), "daily"):
        con = fake.connections[-1]
        assert con.autocommit is True and not con.closed
    assert all(c.closed for c in fake.connections)
    assert "sp_releaseapplock" in con.committed[-1].sql


# ---- parameter sizes as msodbcsql expects them, for every type the writer binds --------
ALL_TYPES = [("d", "date", 0, 10, 0), ("t0", "datetime2", 0, 27, 0), ("t3", "datetime2", 0, 27, 3),
             ("t7", "datetime2", 0, 27, 7), ("dt", "datetime", 0, 23, 3), ("sdt", "smalldatetime", 0, 16, 0),
             ("i", "int", 0, 10, 0), ("bi", "bigint", 0, 19, 0), ("si", "smallint", 0, 5, 0),
             ("ti", "tinyint", 0, 3, 0), ("b", "bit", 0, 1, 0), ("f", "float", 0, 53, 0),
             ("r", "real", 0, 24, 0), ("m", "decimal", 0, 18, 2), ("n", "numeric", 0, 38, 6),
             ("k", "varchar", 64, 0, 0), ("vmax", "varchar", -1, 0, 0), ("v8000", "varchar", 8000, 0, 0),
             ("nv", "nvarchar", 4000, 0, 0), ("nmax", "nvarchar", -1, 0, 0), ("c", "char", 1, 0, 0),
             ("nc", "nchar", 12, 0, 0)]


def test_every_bound_type_has_the_size_the_driver_expects():
    from tools.fake_dbapi import size_problem

    con = with_types(FakeConnection(), ALL_TYPES)
    row = {"d": date(2025, 8, 20), "t0": datetime(2025, 8, 20, 6), "t3": datetime(2025, 8, 20, 6),
           "t7": datetime(2025, 8, 20, 6), "dt": datetime(2025, 8, 20), "sdt": datetime(2025, 8, 20),
           "i": 1, "bi": 2, "si": 3, "ti": 4, "b": 1, "f": 0.5, "r": 0.25, "m": 1.5, "n": 2.5,
           "k": "0001", "vmax": "x" * 9000, "v8000": "y" * 8000, "nv": "ü" * 4000, "nmax": "z" * 5000,
           "c": "U", "nc": "LU000DEMO015"}
    SqlServerDatabase(con).append_rows("T", pd.DataFrame([row]))
    sizes = dict(zip(row, [c for c in con.statements if c.kind == "executemany"][0].input_sizes))
    assert all(size_problem(s) is None for s in sizes.values()), sizes
    assert sizes["d"] == (91, 10, 0)                       # DATE: 10, never 0
    assert (sizes["t0"], sizes["t3"], sizes["t7"]) == ((93, 19, 0), (93, 23, 3), (93, 27, 7))
    assert sizes["dt"] == (93, 23, 3) and sizes["sdt"] == (93, 16, 0)
    assert sizes["i"] == (4, 10, 0) and sizes["bi"] == (-5, 19, 0) and sizes["b"] == (-7, 1, 0)
    assert sizes["f"] == (8, 15, 0) and sizes["r"] == (7, 7, 0)
    assert sizes["m"] == (3, 18, 2) and sizes["n"] == (3, 38, 6)
    assert sizes["k"] == (12, 64, 0) and sizes["vmax"] == (12, 0, 0) and sizes["v8000"] == (12, 8000, 0)
    assert sizes["nv"] == (-9, 4000, 0) and sizes["nmax"] == (-9, 0, 0) and sizes["nc"] == (-8, 12, 0)


def test_the_strict_fake_refuses_what_msodbcsql_refuses():
    from tools.fake_dbapi import Error, size_problem

    assert size_problem((91, 0, 0)) and size_problem((93, 19, 3)) and size_problem((12, 8001, 0))
    assert size_problem((-9, 4001, 0)) and size_problem((1, 0, 0)) and size_problem((3, 39, 2))
    assert size_problem((4, 0, 0))
    cur = FakeConnection().cursor()
    cur.setinputsizes([(12, 3, 0)])
    with pytest.raises(Error, match="22001"):  # longer than declared: right truncation
        cur.executemany("INSERT INTO #s (a) VALUES (?)", [("abcd",)])


# ---- the first-deployment preflight (tools/sqlserver_preflight.py), on the fake ---------
def test_preflight_describes_models_compiles_hooks_and_checks_the_databases(tmp_path):
    from tools.sqlserver_preflight import preflight

    build = tmp_path / "build"
    for folder in ("models", "tests", "hooks"):
        (build / folder).mkdir(parents=True)
    (build / "models" / "stg.sql").write_text("select 1 as a\n")
    (build / "tests" / "t.sql").write_text("select a from dbo.stg where a is null\n")
    (build / "hooks" / "m.hook.sql").write_text("-- hook m\ndelete from dbo.m where 1 = 0\n;\n"
                                                "-- hook m\nBROKEN statement\n;\n")
    con = FakeConnection(fail_when=lambda sql: "BROKEN" in sql)
    con.respond("SERVERPROPERTY", ["major_version", "version", "server_collation"],
                [(16, "16.0.4135.4", "Latin1_General_CI_AS")], types=[int, str, str])
    con.respond("sys.databases", ["name", "collation_name", "rcsi"],
                [("FA", "Latin1_General_100_BIN2", 0), ("Provisionen", "Latin1_General_CI_AS", 1)],
                types=[str, str, int])
    con.respond("sp_describe_first_result_set", ["name", "system_type_name"], [("a", "int")],
                types=[str, str])
    failures, report = preflight(SqlServerDatabase(con), build, "FA", "Provisionen")
    described = [c for c in con.statements if "sp_describe_first_result_set" in c.sql]
    assert [c.params for c in described] == [["select 1 as a\n"], ["select a from dbo.stg where a is null\n"]]
    assert report["described"] == {"models/stg.sql": {"a": "int"}, "tests/t.sql": {"a": "int"}}
    noexec = [c.sql for c in con.statements if c.sql.startswith(("SET NOEXEC", "delete", "BROKEN"))]
    assert noexec == ["SET NOEXEC ON", "delete from dbo.m where 1 = 0", "SET NOEXEC OFF",
                      "SET NOEXEC ON", "BROKEN statement", "SET NOEXEC OFF"]
    assert len(failures) == 2
    assert "READ_COMMITTED_SNAPSHOT is OFF" in failures[0] and failures[1].startswith("hooks/m.hook.sql:")
