"""The report's one I/O function: read every table the report shows into :class:`ReportData`.

Required (the report cannot be made without them; DataError, exit 3): the aggregate table
(for the default date) and at least one active model of the configured horizons with its
artifacts (the test-window curves are recomputed from the model and the labels).
Optional (a section shows "no data yet" when the table is missing or has no rows in the
window): the scores and labels tables, FA_MODEL_MONITOR, FA_DRIFT, FA_QC_DAILY,
FA_QC_ALERTS, FA_DATA_QUALITY, FA_RUN_LOG, the registry history. Column names follow the
schemas of docs/operations.md (issue 11 contracts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Sequence

import numpy as np
import pandas as pd

from ml.config import Settings
from ml.db import SCHEMA, Database, ident, open_target
from ml.errors import DataError

WINDOW_DAYS = 90      # time series: the 90 days up to the report date
DRIFT_DAYS = 60       # the PSI heat strip: the last 60 days
RUN_LOG_DAYS = 14     # the run log: runs of the 14 days up to the latest logged run

MONITOR = "FA_MODEL_MONITOR"
DRIFT = "FA_DRIFT"
RUN_LOG = "FA_RUN_LOG"
QC_DAILY = "FA_QC_DAILY"
QC_ALERTS = "FA_QC_ALERTS"
DATA_QUALITY = "FA_DATA_QUALITY"


@dataclass
class ReportData:
    """Everything the report shows, as plain frames (None: the table does not exist).

    ``test`` maps a horizon to a frame (Score_Date, Depot_Number, y, p) of its active
    model's label-complete test-window rows with the model's calibrated probability.
    """

    code: str
    day: date
    horizons: tuple[int, ...]
    models: pd.DataFrame                       # active registry rows, by Horizon
    test: dict[int, pd.DataFrame]
    today: pd.DataFrame | None                 # the scores table rows of ``day``
    registry: pd.DataFrame                     # every registry row
    history: pd.DataFrame | None
    monitor: pd.DataFrame | None = None
    drift: pd.DataFrame | None = None
    qc_daily: pd.DataFrame | None = None
    qc_alerts: pd.DataFrame | None = None
    data_quality: pd.DataFrame | None = None
    run_log: pd.DataFrame | None = None
    reasons: pd.DataFrame | None = None        # reason codes of ``day`` (Feature, Rank)
    pos_rate_median_days: int = 14
    notes: list[str] = field(default_factory=list)


def _dates(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    for c in cols:
        if c in df.columns:
            df[c] = pd.to_datetime(df[c]).dt.normalize()
    return df


def _optional(db: Database, table: str, where: str = "", params: Sequence = (),
              order: str = "") -> pd.DataFrame | None:
    """Rows of an optional table, or None when the table does not exist."""
    if not db.table_exists(table):
        return None
    sql = f"SELECT * FROM {SCHEMA}.{ident(table)}"
    if where:
        sql += f" WHERE {where}"
    if order:
        sql += f" ORDER BY {order}"
    return db.query_df(sql, list(params))


def _test_rows(db: Database, settings: Settings, models: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Each active model's test window, label-complete rows, scored by that model."""
    from ml import registry
    from ml.dataset import complete, label_column, label_horizon, load_window, matrix

    if not db.table_exists(settings.labels_table):
        return {}
    horizons = tuple(int(h) for h in models["Horizon"])
    start = min(pd.Timestamp(d).date() for d in models["Test_Start"])
    end = max(pd.Timestamp(d).date() for d in models["Test_End"])
    data = load_window(db, settings, start, end, horizons)
    horizon_date = label_horizon(db, settings, horizons)
    out = {}
    for _, row in models.iterrows():
        h = int(row["Horizon"])
        lo, hi = pd.Timestamp(row["Test_Start"]), pd.Timestamp(row["Test_End"])
        part = data[complete(data, h, horizon_date) & (data["Score_Date"] >= lo) & (data["Score_Date"] <= hi)]
        model = registry.load_model(settings, row.to_dict())
        out[h] = pd.DataFrame({
            "Score_Date": part["Score_Date"].to_numpy(),
            "Depot_Number": part["Depot_Number"].to_numpy(),
            "y": part[label_column(h)].to_numpy(dtype="float64"),
            "p": model.predict(matrix(part)) if len(part) else np.zeros(0),
        })
    return out


def read_report_data(settings: Settings, day: date | None = None) -> ReportData:
    """Read the tables for the report of ``day`` (default: the latest scored day, else the
    latest aggregate day)."""
    from ml import registry
    from ml.dataset import score_date_range
    from ml.reasons import reasons_table

    code, horizons = settings.target.code, settings.target.horizons
    with open_target(settings, read_only=settings.engine == "duckdb") as db:
        first, last = score_date_range(db, settings)
        has_scores = db.table_exists(settings.scores_table)
        if day is None:
            latest = db.scalar(f"SELECT MAX(Score_Date) FROM {SCHEMA}.{settings.scores_table}") \
                if has_scores else None
            day = pd.Timestamp(latest).date() if latest is not None else last
        if not db.table_exists(registry.REGISTRY):
            raise DataError(f"no active model for {code}: run 'python orchestrate.py train' first")
        all_models = registry.list_models(db, code)
        models = all_models[(all_models["Is_Active"] == 1) & all_models["Horizon"].isin(horizons)]
        if models.empty:
            raise DataError(f"no active model for {code}: run 'python orchestrate.py train' first")
        models = models.sort_values("Horizon").reset_index(drop=True)
        since = day - timedelta(days=WINDOW_DAYS - 1)
        window = "Target_Code = ? AND Score_Date >= ? AND Score_Date <= ?"
        data = ReportData(
            code=code, day=day, horizons=tuple(int(h) for h in models["Horizon"]), models=models,
            test=_test_rows(db, settings, models),
            today=_dates(db.query_df(
                f"SELECT * FROM {SCHEMA}.{settings.scores_table} WHERE Score_Date = ? "
                "ORDER BY Depot_Number", [day]), ["Score_Date"]) if has_scores else None,
            registry=all_models,
            history=_optional(db, registry.HISTORY, "Target_Code = ?", [code], "Horizon, Event_Seq"),
            pos_rate_median_days=settings.qc.pos_rate_median_days,
        )
        data.monitor = _optional(db, MONITOR, window, [code, since, day], "Horizon, Score_Date")
        data.drift = _optional(db, DRIFT, window, [code, day - timedelta(days=DRIFT_DAYS - 1), day],
                               "Feature, Score_Date")
        data.qc_daily = _optional(db, QC_DAILY, window, [code, since, day], "Score_Date")
        data.qc_alerts = _optional(db, QC_ALERTS, window, [code, since, day],
                                   "Score_Date, Check_Name, Subject, Run_At")
        data.data_quality = _optional(db, DATA_QUALITY, order="Datei_Datum, Source_Table, Reason")
        data.reasons = _optional(db, reasons_table(settings), "Score_Date = ?", [day],
                                 "Depot_Number, Rank")
        if db.table_exists(RUN_LOG):
            newest = db.scalar(f"SELECT MAX(Started_Utc) FROM {SCHEMA}.{RUN_LOG} WHERE Target_Code = ?",
                               [code])
            data.run_log = _optional(
                db, RUN_LOG, "Target_Code = ? AND Started_Utc >= ?",
                [code, (pd.Timestamp(newest) - pd.Timedelta(days=RUN_LOG_DAYS)).to_pydatetime()
                 if newest is not None else pd.Timestamp(day).to_pydatetime()],
                "Started_Utc, Run_Id, Step")
    for frame in (data.monitor, data.drift, data.qc_daily, data.qc_alerts, data.reasons):
        if frame is not None:
            _dates(frame, ["Score_Date"])
    if data.data_quality is not None:
        _dates(data.data_quality, ["Datei_Datum"])
    return data
