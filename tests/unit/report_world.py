"""A world for the HTML report (tests only): a trained, scored synthetic world plus hand-made
rows in the issue-11 tables (FA_MODEL_MONITOR, FA_DRIFT, FA_RUN_LOG, freshness alerts),
FA_QC_DAILY and FA_DATA_QUALITY, with the contract's columns.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

import synthetic_world
from ml.config import load_settings
from ml.dataset import FEATURES, Windows
from ml.score import score_day
from ml.train import TrainParams, train

DAY = date(2025, 8, 1)
WINDOWS = Windows(date(2024, 10, 25), date(2025, 6, 10), date(2025, 6, 11), date(2025, 7, 21))
HORIZON = date(2025, 8, 20)  # the synthetic world's last day
FRESHNESS = "no counting U file for 2025-07-30, 2025-07-31 (2 business days)"
TOP_MOVER = ("Cash_Ratio", 0.3125)


def settings_for(root: Path):
    return load_settings({"FA_DUCKDB_PATH": str(root / "fa.duckdb"),
                          "FA_ART_DIR": str(root / "artifacts"),
                          "FA_SOURCE_DB": str(root / "src.duckdb")})


def business_days(start: date, end: date) -> list[date]:
    return [d.date() for d in pd.date_range(start, end, freq="D") if d.weekday() < 5]


def monitor_rows(version: str) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for d in business_days(date(2025, 6, 2), DAY):
        for h in (7, 14, 30):
            done = d + timedelta(days=h) <= HORIZON
            exp_pos = 12.0 * h / 7
            rows.append({
                "Target_Code": "DEMO", "Score_Date": d, "Horizon": h, "Model_Version": version,
                "Rows_Scored": 290, "Labels_Complete": int(done),
                "Positives": int(rng.poisson(exp_pos)) if done else None,
                "AP": float(rng.uniform(0.05, 0.3)) if done else None,
                "P_At_1": float(rng.uniform(0.1, 0.6)) if done else None,
                "Lift_At_1": float(rng.uniform(2, 12)) if done else None,
                "Brier": float(rng.uniform(0.01, 0.05)) if done else None,
                "Expected_Positives": exp_pos, "Expected_P_At_1": 0.3,
            })
    return pd.DataFrame(rows)


def drift_rows(version: str) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = []
    for d in business_days(date(2025, 7, 1), DAY):
        for f in (*FEATURES, "p_buy_30d"):
            psi = float(rng.uniform(0, 0.09))
            if d == DAY and f == TOP_MOVER[0]:
                psi = TOP_MOVER[1]
            rows.append({"Target_Code": "DEMO", "Score_Date": d, "Model_Version": version, "Feature": f,
                         "PSI": psi, "Level": "alert" if psi >= 0.25 else ("warning" if psi >= 0.1 else "ok")})
    return pd.DataFrame(rows)


def qc_daily_rows() -> pd.DataFrame:
    from ml.qc import daily_columns

    rng = np.random.default_rng(3)
    rows = []
    for d in pd.date_range(date(2025, 5, 4), DAY, freq="D"):
        row = {"Target_Code": "DEMO", "Score_Date": d.date(), "Agg_Rows": 300, "Pre_First_Rows": 290,
               "Label_Rows": 300, "Score_Rows": 290 if d.date() == DAY else 0,
               "Score_Null_Share": 0.0 if d.date() == DAY else None, "DQ_Left_Out_Rows": int(rng.integers(0, 3)),
               "DQ_Superseded_Rows": 0, "Alerts": 0, "Run_At": datetime(2025, 8, 1, 6, 30)}
        for h in (7, 14, 30):
            done = d.date() + timedelta(days=h) <= HORIZON
            row.update({f"Label_Complete_T{h}": int(done),
                        f"Pos_Rate_T{h}": float(rng.uniform(0.01, 0.03)) * h / 7 if done else None,
                        f"Null_Share_T{h}": 0.0 if done else None})
        rows.append(row)
    return pd.DataFrame(rows)[[c for c, _ in daily_columns((7, 14, 30))]]


def alert_rows() -> pd.DataFrame:
    base = {"Target_Code": "DEMO", "Threshold": 1.0}
    return pd.DataFrame([
        {**base, "Run_At": datetime(2025, 8, 1, 6, 30), "Score_Date": DAY, "Check_Name": "freshness",
         "Subject": "U", "Value": 2.0, "Message": FRESHNESS},
        {**base, "Run_At": datetime(2025, 8, 1, 7, 0), "Score_Date": DAY, "Check_Name": "freshness",
         "Subject": "U", "Value": 2.0, "Message": FRESHNESS},   # a rerun: shown once
        {**base, "Run_At": datetime(2025, 8, 1, 6, 30), "Score_Date": date(2025, 7, 2),
         "Check_Name": "pos_rate_deviation", "Subject": "T30", "Value": 0.61, "Threshold": 0.5,
         "Message": "2025-07-02: T30 positive rate 0.0400 deviates 61% from its 14-day median 0.0248"},
    ])


def data_quality_rows() -> pd.DataFrame:
    return pd.DataFrame([
        {"Datei_Datum": date(2025, 7, 14), "Source_Table": "cd_Order", "Reason": "null_amount", "Row_Count": 4},
        {"Datei_Datum": date(2025, 7, 21), "Source_Table": "cd_Buchung", "Reason": "duplicate_row", "Row_Count": 7},
        {"Datei_Datum": date(2025, 7, 21), "Source_Table": "cd_Order", "Reason": "superseded_file", "Row_Count": 90},
        {"Datei_Datum": date(2024, 1, 5), "Source_Table": "cd_Saldo", "Reason": "null_key", "Row_Count": 2},
        {"Datei_Datum": None, "Source_Table": "cd_Datei", "Reason": "unknown_file", "Row_Count": 1},
    ])


def run_log_rows(version: str) -> pd.DataFrame:
    start = datetime(2026, 11, 30, 6, 30)
    rows = []
    for run, (day_offset, failing) in enumerate([(0, None), (1, "score")]):
        t = start + timedelta(days=day_offset)
        for step, secs in (("dbt", 40.0), ("score", 3.5), ("qc", 1.2)):
            code = 3 if step == failing else 0
            rows.append({"Run_Id": f"run-{run}", "Target_Code": "DEMO", "Command": "daily", "Step": step,
                         "Started_Utc": t, "Ended_Utc": t + timedelta(seconds=secs), "Seconds": secs,
                         "Exit_Code": code, "Rows_Written": 290 if step == "score" and not code else None,
                         "Model_Versions": f'{{"30": "{version}"}}', "Dbt_Summary": None,
                         "Message": "no active model for DEMO horizon 30" if code else None})
            t += timedelta(seconds=secs)
            if code:
                break
    return pd.DataFrame(rows)


def add_table(path: Path, name: str, df: pd.DataFrame) -> None:
    con = duckdb.connect(str(path))
    try:
        con.register("frame", df)
        con.execute(f"CREATE TABLE dbo.{name} AS SELECT * FROM frame")
    finally:
        con.close()


def build(root: Path, optional: bool = True):
    """Train, score DAY and the day before; with ``optional`` also the issue-11 tables."""
    synthetic_world.write_tables(root / "fa.duckdb")
    settings = settings_for(root)
    summary = train(settings, (7, 14, 30), WINDOWS, TrainParams(n_estimators=60, n_boot=20))
    score_day(settings, DAY - timedelta(days=1))
    score_day(settings, DAY)
    version = summary[0]["version"]
    if optional:
        path = root / "fa.duckdb"
        add_table(path, "FA_MODEL_MONITOR", monitor_rows(version))
        add_table(path, "FA_DRIFT", drift_rows(version))
        add_table(path, "FA_QC_DAILY", qc_daily_rows())
        add_table(path, "FA_QC_ALERTS", alert_rows())
        add_table(path, "FA_DATA_QUALITY", data_quality_rows())
        add_table(path, "FA_RUN_LOG", run_log_rows(version))
    return settings, version
