"""qc on a trained, scored synthetic world: monitor, drift and run log; reruns change nothing."""

import json

import duckdb
import pytest

from ml.features import FEATURES

import synthetic_world
from db_snapshot import table_hashes
from test_cli_ml import env, run  # noqa: F401  (fixture and helper shared)
from ml import runner

TRAIN = ["train", "--horizons", "7,14,30", "--train-start", "2024-10-25", "--train-end", "2025-06-10",
         "--test-start", "2025-06-11", "--test-end", "2025-07-21", "--n-estimators", "30", "--n-boot", "0"]
DAYS = ["2025-07-10", "2025-08-10", "2025-08-20"]


def query(path, sql, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def test_qc_fills_monitor_and_drift_and_a_rerun_leaves_every_table_identical(env):
    db = env / "fa.duckdb"
    synthetic_world.write_tables(db)
    assert run(*TRAIN).exit_code == 0
    for day in DAYS:
        assert run("score", "--date", day).exit_code == 0
    first = run("qc")
    assert first.exit_code in (0, 5), first.output
    before = table_hashes(db)
    again = run("qc")
    assert again.exit_code == first.exit_code and again.output.splitlines()[-1] == first.output.splitlines()[-1]
    assert table_hashes(db) == before          # FA_QC_ALERTS replaced, monitor and drift untouched

    mon = query(db, "SELECT m.Score_Date, m.Horizon, m.Rows_Scored, m.Expected_Positives, m.Labels_Complete, "
                    "m.AP, m.Model_Version, s.n, s.sp, s.v FROM dbo.FA_MODEL_MONITOR m JOIN ("
                    "  SELECT Score_Date, COUNT(*) AS n, SUM(p_buy_30d) AS sp, MIN(model_version_30d) AS v "
                    "  FROM dbo.CD_FA_BUY_DEMO_ML GROUP BY Score_Date) s ON s.Score_Date = m.Score_Date "
                    "WHERE m.Horizon = 30 ORDER BY m.Score_Date")
    assert [str(d.date()) for d in mon["Score_Date"]] == DAYS
    # the label-free estimate is the sum of the calibrated probabilities that were published
    assert (abs(mon["Expected_Positives"] - mon["sp"]) < 1e-9).all() and (mon["Rows_Scored"] == mon["n"]).all()
    assert (mon["Model_Version"] == mon["v"]).all()
    assert list(mon["Labels_Complete"]) == [1, 0, 0] and mon["AP"].iloc[0] > 0   # 07-10 + 30 <= 08-20

    drift = query(db, "SELECT Score_Date, COUNT(*) AS n FROM dbo.FA_DRIFT GROUP BY Score_Date ORDER BY 1")
    assert list(drift["n"]) == [len(FEATURES) + 1] * 3     # every feature + p_buy_30d, every scored day
    reg = query(db, "SELECT Drift_Path, Drift_Sha256, Train_Fingerprint, Library_Versions FROM dbo.FA_MODEL_REGISTRY")
    assert reg["Drift_Path"].str.endswith("drift.json").all() and reg["Train_Fingerprint"].str.len().eq(64).all()
    assert json.loads(reg["Library_Versions"].iloc[0])["xgboost"]

    log = query(db, "SELECT Command, Step, Exit_Code, Rows_Written FROM dbo.FA_RUN_LOG ORDER BY Started_Utc")
    assert list(log["Command"]) == ["train", "score", "score", "score", "qc", "qc"]
    assert (log["Step"] == "-").all() and list(log["Exit_Code"][-2:]) == [first.exit_code] * 2
    assert list(log["Rows_Written"][1:4]) == [int(query(db, "SELECT COUNT(*) AS n FROM dbo.CD_FA_BUY_DEMO_ML "
                                                             "WHERE Score_Date = ?", [d])["n"][0]) for d in DAYS]


def test_an_older_registry_and_alert_table_get_the_new_columns(env):
    db = env / "fa.duckdb"
    synthetic_world.write_tables(db)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE dbo.FA_QC_ALERTS (Run_At TIMESTAMP, Target_Code VARCHAR, Score_Date DATE, "
                "Check_Name VARCHAR, Subject VARCHAR, Value DOUBLE, Threshold DOUBLE, Message VARCHAR)")
    con.execute("INSERT INTO dbo.FA_QC_ALERTS VALUES (TIMESTAMP '2025-08-01 06:00', 'DEMO', DATE '2025-08-01', "
                "'null_share', 'scores', 1, 0.98, 'old')")
    con.close()
    assert run("qc").exit_code == 5       # nothing scored: the null_share alert
    assert run("qc").exit_code == 5
    alerts = query(db, "SELECT Message, QC_Date FROM dbo.FA_QC_ALERTS ORDER BY Run_At")
    assert list(alerts["Message"]) == ["old", "2025-08-20: 100% of Pre_First_Target rows have no score"]
    assert alerts["QC_Date"].isna().tolist() == [True, False]


@pytest.fixture
def fake_children(env, monkeypatch):
    duckdb.connect(str(env / "fa.duckdb")).close()    # an FA database to log into
    config = env / "fund.yml"
    config.write_text("target:\n  code: DEMO\n  isins: [LU000DEMO015]\n"
                      "timeouts_seconds:\n  dbt: 20\n  score: 2\n  qc: 20\n", encoding="utf-8")
    monkeypatch.setenv("FA_CONFIG", str(config))

    def make(body):
        script = env / "fake_orchestrate.py"
        script.write_text("import sys, time\n" + body + "\n")
        monkeypatch.setattr(runner, "ORCHESTRATE", script)
        monkeypatch.setattr(runner, "STEPS", (str(script),))
    return make


def test_run_log_has_rows_for_a_failed_and_a_timed_out_step(env, fake_children):
    fake_children("sys.exit(4 if sys.argv[1] == 'dbt' else 0)")
    assert run("daily", "--date", "2025-08-20").exit_code == 4
    fake_children("time.sleep(30) if sys.argv[1] == 'score' else None")
    assert run("daily", "--date", "2025-08-20").exit_code == 7
    log = query(env / "fa.duckdb", "SELECT * FROM dbo.FA_RUN_LOG ORDER BY Started_Utc, Step")
    rows = [(r.Command, r.Step, r.Exit_Code) for r in log.itertuples()]
    assert rows == [("daily", "-", 4), ("daily", "dbt", 4),
                    ("daily", "-", 7), ("daily", "dbt", 0), ("daily", "score", 7)]
    first, second = log[log["Exit_Code"] == 4], log[log["Exit_Code"] != 4]
    assert first["Run_Id"].nunique() == 1 and second["Run_Id"].nunique() == 1
    assert first["Run_Id"].iloc[0] != second["Run_Id"].iloc[0]
    timed_out = log[log["Step"] == "score"].iloc[0]
    assert timed_out["Message"] == ("step 'score' exceeded its time limit of 2 s and was stopped; rerun, "
                                    "or raise timeouts_seconds.score in FA_CONFIG")
    assert 2 <= timed_out["Seconds"] < 20
    assert log[log["Step"] == "dbt"]["Message"].iloc[0] == "step 'dbt' failed (exit code 4); see its output above"
