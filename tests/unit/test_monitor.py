"""FA_MODEL_MONITOR on hand-made scores and labels; PSI by hand; freshness calendars."""

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml import drift, freshness, monitor
from ml.config import QCThresholds, load_settings
from ml.db import open_target
from ml.qc import read_counts

D1, D2 = date(2025, 6, 2), date(2025, 7, 1)
HORIZON_DATE = date(2025, 7, 10)   # D1 complete for T7 and T30; D2 for T7 only


@pytest.fixture
def world(tmp_path, monkeypatch):
    cfg = tmp_path / "fund.yml"
    cfg.write_text("target:\n  code: DEMO\n  isins: [LU000DEMO015]\n  horizons: [7, 30]\n", encoding="utf-8")
    monkeypatch.setenv("FA_CONFIG", str(cfg))
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    settings = load_settings()
    scores = pd.DataFrame({
        "Score_Date": [D1] * 4 + [D2] * 5,
        "Depot_Number": ["A", "B", "C", "D", "A", "B", "C", "D", "E"],
        "p_buy_7d": [0.5, 0.2, 0.1, 0.05, 0.4, 0.3, 0.2, 0.1, 0.05],
        "p_buy_30d": [0.9, 0.8, 0.3, 0.1, 0.6, 0.5, 0.4, 0.3, 0.2],
        "model_version_7d": ["v1"] * 9, "model_version_30d": ["v1"] * 9,
        "scored_at": pd.Timestamp("2025-07-10 06:00"),
    })
    labels = pd.DataFrame({
        "Score_Date": [D1] * 4 + [D2] * 5,
        "Depot_Number": ["A", "B", "C", "D", "A", "B", "C", "D", "E"],
        "label_T7": [0, 0, 1, 0, 0, 1, 0, 1, 0],
        "label_T30": [1, 0, 1, 0, 1, None, None, None, None],   # D2 T30 censored
    })
    con = duckdb.connect(str(tmp_path / "fa.duckdb"))
    con.execute("CREATE SCHEMA dbo")
    con.register("s", scores)
    con.register("l", labels)
    con.execute("CREATE TABLE dbo.CD_FA_BUY_DEMO_ML AS SELECT CAST(Score_Date AS DATE) AS Score_Date, "
                "Depot_Number, p_buy_7d, p_buy_30d, model_version_7d, model_version_30d, scored_at FROM s")
    con.execute("CREATE TABLE dbo.CD_FA_AGG_BUY_DEMO AS SELECT CAST(Score_Date AS DATE) AS Score_Date, "
                "Depot_Number, 1 AS Pre_First_Target FROM s")
    con.execute("CREATE TABLE dbo.CD_FA_LABELS_DEMO AS SELECT CAST(Score_Date AS DATE) AS Score_Date, "
                "Depot_Number, CAST(label_T7 AS INTEGER) AS label_T7, CAST(label_T30 AS INTEGER) AS label_T30 FROM l")
    con.close()
    return settings


def fill(settings):
    with open_target(settings) as db:
        summary = monitor.score_summary(db, settings, D1, D2)
        counts = read_counts(db, settings, D1, D2)     # QC's per-day label counts
        written = monitor.update_monitor(db, settings, D1, D2, HORIZON_DATE, summary, counts)
        table = db.query_df("SELECT * FROM dbo.FA_MODEL_MONITOR ORDER BY Score_Date, Horizon")
    table["Score_Date"] = pd.to_datetime(table["Score_Date"]).dt.date
    return written, table.set_index(["Score_Date", "Horizon"])


def test_monitor_equals_hand_computed_figures(world):
    written, t = fill(world)
    assert written == 4
    # D1 T30: p .9 .8 .3 .1, y 1 0 1 0. AP = 1/2 * 1 + 1/2 * 2/3; top 1 % of 4 rows = 1 row (a buyer).
    r = t.loc[(D1, 30)]
    assert r["Labels_Complete"] == 1 and r["Rows_Scored"] == 4 and r["Positives"] == 2
    assert r["AP"] == pytest.approx(0.5 + 1 / 3)
    assert r["P_At_1"] == 1.0 and r["Lift_At_1"] == pytest.approx(2.0)
    assert r["Brier"] == pytest.approx((0.01 + 0.64 + 0.49 + 0.01) / 4)
    # D1 T7: y 0 0 1 0: the only buyer is third -> AP 1/3, P@1 0.
    r = t.loc[(D1, 7)]
    assert r["AP"] == pytest.approx(1 / 3) and r["P_At_1"] == 0 and r["Lift_At_1"] == 0
    assert r["Brier"] == pytest.approx((0.25 + 0.04 + 0.81 + 0.0025) / 4)
    # D2 T7: y 0 1 0 1 0 -> precision 1/2 at both buyers, AP 1/2; base rate 0.4.
    r = t.loc[(D2, 7)]
    assert r["AP"] == pytest.approx(0.5) and r["P_At_1"] == 0 and r["Positives"] == 2
    assert r["Brier"] == pytest.approx((0.16 + 0.49 + 0.04 + 0.81 + 0.0025) / 5)
    # D2 T30 is censored: no realized figure, only the label-free estimate.
    r = t.loc[(D2, 30)]
    assert r["Labels_Complete"] == 0
    assert all(pd.isna(r[c]) for c in ("Positives", "AP", "P_At_1", "Lift_At_1", "Brier"))
    assert r["Expected_Positives"] == pytest.approx(0.6 + 0.5 + 0.4 + 0.3 + 0.2)   # sum of p
    assert r["Expected_P_At_1"] == pytest.approx(0.6)                            # mean p of the top row
    assert t.loc[(D1, 30)]["Expected_Positives"] == pytest.approx(2.1)
    assert (t["Model_Version"] == "v1").all()


def test_rerun_writes_nothing_and_a_changed_label_is_recomputed(world):
    _, before = fill(world)
    written, again = fill(world)
    assert written == 0
    pd.testing.assert_frame_equal(before, again)
    con = duckdb.connect(str(world.duckdb_path))
    con.execute("UPDATE dbo.CD_FA_LABELS_DEMO SET label_T30 = 1 WHERE Score_Date = ? AND Depot_Number = 'B'", [D1])
    con.close()
    written, after = fill(world)
    assert written == 2                       # the two horizons of D1, nothing else
    assert after.loc[(D1, 30)]["Positives"] == 3
    assert after.loc[(D1, 30)]["AP"] == pytest.approx(1.0)   # buyers ranked 1, 2, 3
    pd.testing.assert_frame_equal(after.loc[[(D2, 7), (D2, 30)]], before.loc[[(D2, 7), (D2, 30)]])


def test_rolling_alert_against_the_test_ap():
    th = QCThresholds(monitor_days=3, min_ap_share=0.5, min_lift_share=0.5)
    hist = pd.DataFrame({"Score_Date": pd.to_datetime(["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05"]),
                         "AP": [0.5, 0.04, 0.05, 0.03], "Lift_At_1": [9.0, 6.0, 6.0, 6.0]})
    model = {"Version": "v1", "Test_AP": 0.1, "Test_Lift_At_1": 10.0}
    alerts, _ = monitor.rolling_alerts(hist, model, th, date(2025, 7, 10), 30)
    # the last 3 days: mean AP 0.04 < 0.5 x 0.1; mean lift 6 >= 0.5 x 10
    assert [(a["Check_Name"], round(a["Value"], 6), a["Threshold"]) for a in alerts] == [("drift_ap", 0.04, 0.05)]
    assert alerts[0]["Message"] == ("T30: mean AP 0.0400 of the last 3 label-complete days (2025-06-03 .. "
                                    "2025-06-05) is below 50% of the test AP 0.1000 of model v1")
    assert monitor.rolling_alerts(hist.head(2), model, th, date(2025, 7, 10), 30)[0] == []   # too few days


def test_psi_by_hand_and_zero_for_identical_samples():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    edges = drift.edges_of(ref, bins=2)
    assert edges == [2.0]                               # the median: bins x <= 2, x > 2, NULL
    e = drift.shares_of(ref, edges)
    assert list(e) == [0.5, 0.5, 0.0]
    a = drift.shares_of(np.array([1.0, 3.0, 4.0, np.nan]), edges)
    assert list(a) == [0.25, 0.5, 0.25]
    eps = drift.EPS
    by_hand = (0.25 - 0.5) * np.log(0.25 / 0.5) + 0 + (0.25 - eps) * np.log(0.25 / eps)
    assert drift.psi(e, a) == pytest.approx(by_hand)
    assert drift.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * np.log(2) + 0.25 * np.log(1.5))
    ref_all = drift.build_reference({"x": ref, "y": np.array([0.0, 0.0, 1.0, np.nan])}, bins=2)
    assert drift.day_psi(ref_all, {"x": ref, "y": np.array([0.0, 0.0, 1.0, np.nan])}) == {"x": 0.0, "y": 0.0}
    th = QCThresholds()
    assert [drift.level(v, th) for v in (0.05, 0.1, 0.2, 0.25)] == ["ok", "warning", "warning", "alert"]


def test_weighted_edges_count_sampled_rows_by_their_weight():
    # three rows of weight 1 and one of weight 3: the weighted median is the heavy row's value
    assert drift.edges_of(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0, 3.0]), bins=2) == [3.0]
    assert list(drift.shares_of(np.array([1.0, 4.0]), [3.0], np.array([1.0, 3.0]))) == [0.25, 0.75, 0.0]


TH = QCThresholds(holidays=(date(2025, 8, 25),), max_file_age_business_days=1)


def test_freshness_names_the_missing_business_days():
    plain = QCThresholds()
    latest = {"U": date(2025, 8, 20), "B": date(2025, 8, 20)}
    alerts = freshness.check(latest, date(2025, 8, 25), plain)
    assert [a["Message"] for a in alerts] == [
        "no U file for 2025-08-21, 2025-08-22, 2025-08-25 (latest 2025-08-20)",
        "no B file for 2025-08-21, 2025-08-22, 2025-08-25 (latest 2025-08-20)"]
    assert alerts[0]["Value"] == 3 and alerts[0]["Subject"] == "U"
    # one business day behind is allowed (a B file loading after the run)
    assert freshness.check({"U": date(2025, 8, 21), "B": date(2025, 8, 20)}, date(2025, 8, 21), plain) == []
    assert freshness.check({"U": None, "B": date(2025, 8, 20)}, date(2025, 8, 20), plain)[0]["Message"] \
        == "no U file up to 2025-08-20"


def test_freshness_no_false_alarm_on_weekends_and_configured_holidays():
    friday = {"U": date(2025, 8, 22), "B": date(2025, 8, 22)}
    for day in (date(2025, 8, 23), date(2025, 8, 24)):          # Saturday, Sunday
        assert freshness.check(friday, day, QCThresholds(max_file_age_business_days=0)) == []
    # Monday 25 is a configured holiday: Tuesday owes only its own files (1 day: allowed)
    assert freshness.check(friday, date(2025, 8, 26), TH) == []
    # without the holiday the same Tuesday owes Monday and Tuesday
    assert len(freshness.check(friday, date(2025, 8, 26), QCThresholds())) == 2
    assert freshness.business_days(date(2025, 8, 22), date(2025, 8, 26), TH.holidays) == [
        date(2025, 8, 22), date(2025, 8, 26)]


def test_freshness_reads_the_latest_counting_file_per_type(tmp_path, monkeypatch):
    from ml.source import write_source_db

    files = pd.DataFrame({
        "Datei_ID": [1, 2, 3, None, 5],
        "Datei_Typ": [" u ", "B", "U", "U", "X"],
        "Datei_Datum": pd.to_datetime(["2025-08-19", "2025-08-19", "2025-08-21", "2025-08-22", "2025-08-22"]),
        "Import_Zeit": pd.to_datetime(["2025-08-20 01:00"] * 5),
        "Datei_Name": list("abcde"),
    })
    write_source_db(tmp_path / "src.duckdb", {"cd_Datei": files})
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "src.duckdb"))
    monkeypatch.delenv("FA_CONFIG", raising=False)
    settings = load_settings()
    # file 4 has no id and file 5 an unknown type: neither counts; file 3 is after the day
    assert freshness.latest_files(settings, date(2025, 8, 20)) == {"U": date(2025, 8, 19), "B": date(2025, 8, 19)}
    assert freshness.latest_files(settings, date(2025, 8, 22)) == {"U": date(2025, 8, 21), "B": date(2025, 8, 19)}


def test_new_tables_ddl_on_both_engines():
    from ml import runlog
    from ml.db import create_table_sql

    mssql = create_table_sql("sqlserver", "FA_RUN_LOG", runlog.COLUMNS)
    assert "Run_Id VARCHAR(40)" in mssql and "Message VARCHAR(4000)" in mssql and "Started_Utc DATETIME2(3)" in mssql
    assert "Run_Id VARCHAR," in create_table_sql("duckdb", "FA_RUN_LOG", runlog.COLUMNS)
    ddl = create_table_sql("sqlserver", monitor.MONITOR, monitor.MONITOR_COLUMNS,
                           primary_key=("Target_Code", "Score_Date", "Horizon"))
    assert "Target_Code VARCHAR(20) NOT NULL" in ddl and "PRIMARY KEY CLUSTERED (Target_Code, Score_Date, Horizon)" in ddl
    with pytest.raises(ValueError):
        create_table_sql("sqlserver", "X", [("a", "varchar(9000)")])


def test_calendar_driven_features_are_shown_but_raise_no_psi_alert():
    from datetime import date

    from ml.config import QCThresholds
    from ml.features import CALENDAR_FEATURES
    from ml.monitor import drift_alerts

    th = QCThresholds()
    facts = {"version": "v1", "psi": {"Tenure_Days": 1.8, "Cash": 0.30, "Buys_30d": 0.12, "Pos_Count": 0.01}}
    alerts, line = drift_alerts(facts, th, date(2025, 8, 20))
    assert "Tenure_Days" in CALENDAR_FEATURES and "Cash" not in CALENDAR_FEATURES
    assert [a["Subject"] for a in alerts] == ["Cash"]          # 0.30 >= psi_alert, not calendar-driven
    assert line.endswith("Tenure_Days 1.800 (alert, calendar-driven: not alerted), "
                         "Cash 0.300 (alert), Buys_30d 0.120 (warning)")


def test_drift_bins_a_value_the_same_from_float32_training_and_float64_scoring():
    """Training rows are float32, score-day rows float64 (ml/dataset.py): 0.1 is 0.1000000015
    in float32, an edge taken from it would sit above the score day's 0.1 and move every
    such row one bin down (a PSI from nothing). Binning at float32 keeps them together."""
    from ml.drift import edges_of, psi, shares_of

    values = np.array([0.1] * 500 + [0.3] * 300 + [2.7] * 200)
    edges = edges_of(values.astype("float32"))
    train = shares_of(values.astype("float32"), edges)
    day = shares_of(values, edges)                      # the same numbers, read as float64
    assert np.allclose(train, day)
    assert psi(train, day) < 1e-9
