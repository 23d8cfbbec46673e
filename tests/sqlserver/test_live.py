"""Opt-in: the writer and the whole pipeline against a live SQL Server.

Runs only when FA_TEST_SQLSERVER names a reachable server (``host`` or ``host,port``);
otherwise every test here is skipped and says why. No SQL Server was reachable where this
suite was written, so it has never run against one: treat its first run as the first
real test of the SQL Server path (docs/sqlserver.md).

Login comes from the usual variables (FA_SQLSERVER_USER / FA_SQLSERVER_PASSWORD or
FA_SQLSERVER_TRUSTED_CONNECTION=yes, FA_SQLSERVER_ENCRYPT, FA_SQLSERVER_TRUST_CERT).
Databases (both must exist; the login needs db_owner or db_ddladmin + read/write on both):

* FA_TEST_SQLSERVER_DATABASE         the FA database to write into        [FA_TEST]
* FA_TEST_SQLSERVER_SOURCE_DATABASE  a *test* source database; the suite DROPs and
                                     re-creates dbo.cd_* there, so its name must contain
                                     "test" (never point it at Provisionen)  [Provisionen_Test]

    FA_TEST_SQLSERVER=sql01,1433 FA_SQLSERVER_USER=fa_test FA_SQLSERVER_PASSWORD=... \\
        .venv/bin/pytest -m sqlserver tests/sqlserver -v
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.sqlserver

# docs/rules.md §0.2, in T-SQL: the shape of Provisionen.dbo (a test copy is built from the demo world).
SOURCE_DDL = {
    "cd_Datei": "Datei_ID INT NOT NULL PRIMARY KEY, Datei_Typ CHAR(1), Datei_Datum DATE, "
                "Import_Zeit DATETIME2, Datei_Name NVARCHAR(260)",
    "cd_Order": "Datei_ID INT, Transaction_Number VARCHAR(32), Depot_Number VARCHAR(20), "
                "Order_Date DATE, OrderType NVARCHAR(20), ISIN CHAR(12), Units DECIMAL(18,6), "
                "Amount_EUR DECIMAL(18,2), Remark NVARCHAR(255) NULL",
    "cd_Buchung": "Datei_ID INT, Transaction_Number VARCHAR(32), Depot_Number VARCHAR(20), "
                  "Booking_Date DATE, Booking_Type NVARCHAR(20), Amount_EUR DECIMAL(18,2), "
                  "Remark NVARCHAR(255) NULL",
    "cd_Saldo": "Datei_ID INT, Depot_Number VARCHAR(20), Cash_EUR DECIMAL(18,2)",
    "cd_Bestand": "Datei_ID INT, Depot_Number VARCHAR(20), ISIN CHAR(12), Units DECIMAL(18,6), "
                  "Market_Value_EUR DECIMAL(18,2)",
}


@pytest.fixture(scope="module")
def live_env() -> dict[str, str]:
    """The environment for a live server, or a skip naming what is missing."""
    target = os.environ.get("FA_TEST_SQLSERVER", "").strip()
    if not target:
        pytest.skip("FA_TEST_SQLSERVER is not set: no live SQL Server to run against "
                    "(offline coverage: tests/unit/test_db_sqlserver.py and make check-sqlserver)")
    host, _, port = target.partition(",")
    tcp_host = host.split("\\")[0]
    try:
        socket.create_connection((tcp_host, int(port or 1433)), timeout=5).close()
    except (OSError, ValueError) as exc:
        pytest.skip(f"FA_TEST_SQLSERVER={target} is not reachable over TCP: {exc}")
    try:
        import pyodbc  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"pyodbc cannot be loaded ({exc}): install unixODBC and ODBC Driver 18")
    source_db = os.environ.get("FA_TEST_SQLSERVER_SOURCE_DATABASE", "Provisionen_Test")
    if "test" not in source_db.lower():
        pytest.fail(f"FA_TEST_SQLSERVER_SOURCE_DATABASE={source_db}: the suite rewrites its "
                    "cd_* tables, so the name must contain 'test'")
    env = {k: v for k, v in os.environ.items()}
    env.update({
        "FA_ENGINE": "sqlserver",
        "FA_SQLSERVER_HOST": host,
        "FA_SQLSERVER_PORT": port or os.environ.get("FA_SQLSERVER_PORT", "1433"),
        "FA_SQLSERVER_DATABASE": os.environ.get("FA_TEST_SQLSERVER_DATABASE", "FA_TEST"),
        "FA_SQLSERVER_SOURCE_DATABASE": source_db,
        "FA_DBT_TARGET": "sqlserver",
    })
    return env


@pytest.fixture()
def live(live_env, monkeypatch):
    for key, value in live_env.items():
        monkeypatch.setenv(key, value)
    return live_env


def _open(env):
    from ml.config import load_settings
    from ml.db_sqlserver import open_sqlserver_target

    return open_sqlserver_target(load_settings(env), env=env)


def test_writer_round_trip_chunks_replace_and_rollback(live):
    """25,000 rows in chunks, a day replaced, a failing replace leaves the table unchanged."""
    from ml.db import create_table_sql
    from ml.errors import DataError

    table = f"FA_TEST_WRITER_{uuid.uuid4().hex[:8].upper()}"
    cols = [("Score_Date", "date"), ("Depot_Number", "key"), ("p", "float"), ("at", "timestamp")]
    n = 25_000
    df = pd.DataFrame({
        "Score_Date": [date(2025, 8, 19)] * (n // 2) + [date(2025, 8, 20)] * (n - n // 2),
        "Depot_Number": [f"{i:08d}" for i in range(n)],
        "p": np.linspace(0, 1, n),
        "at": [pd.Timestamp("2025-08-21 06:00:00")] * n,
    })
    with _open(live) as db:
        db.execute(create_table_sql("sqlserver", table, cols, primary_key=["Score_Date", "Depot_Number"]))
        try:
            assert db.replace_rows(table, df, "Score_Date BETWEEN ? AND ?",
                                   [date(2025, 8, 19), date(2025, 8, 20)]) == n
            count = db.query_df(f"SELECT COUNT(*) AS n FROM dbo.{table}")["n"].iloc[0]
            assert count == n
            day = df[df["Score_Date"] == date(2025, 8, 20)].head(10)
            db.replace_rows(table, day, "Score_Date = ?", [date(2025, 8, 20)])
            counts = db.query_df(f"SELECT Score_Date, COUNT(*) AS n FROM dbo.{table} "
                                 "GROUP BY Score_Date ORDER BY Score_Date")
            assert counts["n"].tolist() == [n // 2, 10]
            duplicate = pd.concat([day, day])  # violates the PK: the replace must roll back
            with pytest.raises(DataError):
                db.replace_rows(table, duplicate, "Score_Date = ?", [date(2025, 8, 20)])
            again = db.query_df(f"SELECT COUNT(*) AS n FROM dbo.{table}")["n"].iloc[0]
            assert again == n // 2 + 10
        finally:
            db.execute(f"DROP TABLE IF EXISTS dbo.{table}")


def _load_source(env, tmp_path) -> None:
    """Generate a small demo world and copy it into the test source database."""
    import duckdb

    from ml.config import load_settings
    from ml.db_sqlserver import open_sqlserver_database, sqlserver_config
    from ml.demo import generate

    duck_env = {k: v for k, v in env.items() if k not in ("FA_ENGINE", "FA_DBT_TARGET")}
    duck_env["FA_SOURCE_DB"] = str(tmp_path / "provisionen.duckdb")
    generate(load_settings(duck_env), depots=150, days=420, seed=7, end_date=date(2025, 8, 20))
    con = duckdb.connect(duck_env["FA_SOURCE_DB"], read_only=True)
    cfg = sqlserver_config(env)
    src = open_sqlserver_database(cfg, cfg.source_database, chunk_size=5_000)
    try:
        for table, ddl in SOURCE_DDL.items():
            src.execute(f"DROP TABLE IF EXISTS dbo.{table}")
            src.execute(f"CREATE TABLE dbo.{table} ({ddl})")
            src.append_rows(table, con.execute(f"SELECT * FROM dbo.{table}").df())
    finally:
        con.close()
        src.close()


def test_whole_pipeline_end_to_end(live, tmp_path):
    """demo world -> backfill (dbt on SQL Server) -> train -> score -> eval -> qc."""
    from click.testing import CliRunner

    from orchestrate import cli

    _load_source(live, tmp_path)
    env = {**live, "FA_ART_DIR": str(tmp_path / "artifacts")}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code in (0, 5), f"{args}: exit {result.exit_code}\n{result.output}"
        return result.output

    run("backfill", "--start-date", "2024-09-01", "--end-date", "2025-08-20")
    run("train", "--horizons", "7,14,30", "--train-start", "2024-10-01", "--train-end", "2025-06-30",
        "--test-start", "2025-07-01", "--test-end", "2025-07-20", "--n-estimators", "200",
        "--n-boot", "20", "--promote")
    run("score", "--date", "2025-08-20")
    run("eval", "--horizons", "7,14,30", "--start", "2025-07-01", "--end", "2025-07-20")
    run("qc", "--window-days", "30")

    with _open(live) as db:
        code = "DEMO"
        agg = db.query_df(f"SELECT COUNT(*) AS n FROM dbo.CD_FA_AGG_BUY_{code}")["n"].iloc[0]
        scores = db.query_df(
            f"SELECT COUNT(*) AS n, SUM(CASE WHEN p_buy_14d < p_buy_7d OR p_buy_30d < p_buy_14d "
            f"THEN 1 ELSE 0 END) AS bad FROM dbo.CD_FA_BUY_{code}_ML WHERE Score_Date = ?",
            [date(2025, 8, 20)])
        assert agg > 0 and scores["n"].iloc[0] > 0 and scores["bad"].iloc[0] == 0
        # docs/rules.md §10: clustered PK on (Score_Date, Depot_Number) for aggregate, labels, scores
        for table in (f"CD_FA_AGG_BUY_{code}", f"CD_FA_LABELS_{code}", f"CD_FA_BUY_{code}_ML"):
            pk = db.query_df(
                "SELECT i.type_desc AS kind FROM sys.indexes AS i "
                "WHERE i.object_id = OBJECT_ID(?) AND i.is_primary_key = 1", [f"dbo.{table}"])
            assert pk["kind"].tolist() == ["CLUSTERED"], table

    # a second run of the same day replaces rather than duplicates
    run("backfill", "--start-date", "2025-08-20", "--end-date", "2025-08-20")
    with _open(live) as db:
        dup = db.query_df(
            "SELECT COUNT(*) AS n FROM (SELECT Score_Date, Depot_Number FROM dbo.CD_FA_AGG_BUY_DEMO "
            "GROUP BY Score_Date, Depot_Number HAVING COUNT(*) > 1) AS d")["n"].iloc[0]
        assert dup == 0
