"""Daily quality checks: counts, positive rates, NULL shares, alerts -> FA_QC_DAILY / FA_QC_ALERTS.

Per Score_Date: aggregate rows, Pre_First_Target rows, label rows, score rows, the positive
rate and NULL share of each horizon's labels, the NULL share of the scores, and the source
rows the foundation left out (FA_DATA_QUALITY, by file day).

Alerts (thresholds in FA_CONFIG ``qc:``; docs/operations.md):

- ``pos_rate_deviation``: the positive rate of the longest horizon (T30) on a day deviates
  from the median of the preceding ``pos_rate_median_days`` days by more than
  ``pos_rate_deviation`` (relative). Only label-complete days (D + T <= data horizon) are
  compared, since recent labels are censored and their 1s arrive before their 0s; and only
  when the median predicts at least MIN_EXPECTED_POSITIVES positives on that day and the
  day's count is at least POS_RATE_MIN_Z Poisson standard deviations away from what the
  median predicts, since a 50 % swing of a few dozen buys is noise, not drift (at 1,000
  eligible rows and a 2 % rate, 20 expected buys: 33 is 2.9 sd and does not alert; at
  50,000 rows, 1,000 expected, a 50 % swing is 16 sd and does).
- ``null_share``: a label column's NULL share on a label-complete day, or the score NULL
  share (Pre_First_Target rows without a score) of a scored day or of the latest day, above
  ``null_share_max``. Recent censored labels are NULL by design and are not checked.

The positive-rate checks look at the last ``window_days`` label-complete days; the counts
and NULL shares at the last ``window_days`` days.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ml.config import QCThresholds, Settings
from ml.dataset import label_column, label_horizon, score_date_range
from ml.db import SCHEMA, Database, open_target
from ml.log import log
from ml import registry

QC_DAILY = "FA_QC_DAILY"
QC_ALERTS = "FA_QC_ALERTS"
DQ_TABLE = "FA_DATA_QUALITY"
MIN_EXPECTED_POSITIVES = 20
POS_RATE_MIN_Z = 4.0
ALERT_COLUMNS = [
    ("Run_At", "timestamp"), ("Target_Code", "key"), ("Score_Date", "date"), ("Check_Name", "key"),
    ("Subject", "key"), ("Value", "float"), ("Threshold", "float"), ("Message", "text"),
]
# Added by a later release (appended to older tables): the day the QC run was for, so a
# rerun for that day replaces its alerts instead of appending them again.
ADDED_ALERT_COLUMNS = [("QC_Date", "date")]


def daily_columns(horizons: Sequence[int]) -> list[tuple[str, str]]:
    cols = [("Target_Code", "key"), ("Score_Date", "date"), ("Agg_Rows", "int"),
            ("Pre_First_Rows", "int"), ("Label_Rows", "int"), ("Score_Rows", "int")]
    for h in horizons:
        cols += [(f"Label_Complete_T{h}", "int"), (f"Pos_Rate_T{h}", "float"), (f"Null_Share_T{h}", "float")]
    return cols + [("Score_Null_Share", "float"), ("DQ_Left_Out_Rows", "int"),
                   ("DQ_Superseded_Rows", "int"), ("Alerts", "int"), ("Run_At", "timestamp")]


def _by_date(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df.set_index(pd.DatetimeIndex([], name="Score_Date"))
    df = df.copy()
    df["Score_Date"] = pd.to_datetime(df["Score_Date"]).dt.normalize()
    return df.set_index("Score_Date")


def read_counts(db: Database, settings: Settings, start: date, end: date) -> pd.DataFrame:
    """Raw per-day counts over [start, end] (portable SQL: CASE sums, no booleans)."""
    horizons = settings.target.horizons
    agg = db.query_df(
        "SELECT Score_Date, COUNT(*) AS Agg_Rows, "
        "SUM(CASE WHEN Pre_First_Target = 1 THEN 1 ELSE 0 END) AS Pre_First_Rows "
        f"FROM {SCHEMA}.{settings.agg_table} WHERE Score_Date >= ? AND Score_Date <= ? GROUP BY Score_Date",
        [start, end])
    parts = [_by_date(agg)]
    label_sums = ", ".join(
        f"SUM(CASE WHEN {label_column(h)} IS NULL THEN 1 ELSE 0 END) AS Null_T{h}, "
        f"SUM(CASE WHEN {label_column(h)} = 1 THEN 1 ELSE 0 END) AS Pos_T{h}" for h in horizons)
    if db.table_exists(settings.labels_table):
        parts.append(_by_date(db.query_df(
            f"SELECT Score_Date, COUNT(*) AS Label_Rows, {label_sums} FROM {SCHEMA}.{settings.labels_table} "
            "WHERE Score_Date >= ? AND Score_Date <= ? GROUP BY Score_Date", [start, end])))
    if db.table_exists(settings.scores_table):
        longest = max(horizons)
        parts.append(_by_date(db.query_df(
            f"SELECT Score_Date, COUNT(*) AS Score_Rows, "
            f"SUM(CASE WHEN p_buy_{longest}d IS NULL THEN 0 ELSE 1 END) AS Scored_Rows "
            f"FROM {SCHEMA}.{settings.scores_table} WHERE Score_Date >= ? AND Score_Date <= ? "
            "GROUP BY Score_Date", [start, end])))
    if db.table_exists(DQ_TABLE):
        dq = db.query_df(
            "SELECT Datei_Datum AS Score_Date, "
            "SUM(CASE WHEN Reason = 'superseded_file' THEN 0 ELSE Row_Count END) AS DQ_Left_Out_Rows, "
            "SUM(CASE WHEN Reason = 'superseded_file' THEN Row_Count ELSE 0 END) AS DQ_Superseded_Rows "
            f"FROM {SCHEMA}.{DQ_TABLE} WHERE Datei_Datum >= ? AND Datei_Datum <= ? GROUP BY Datei_Datum",
            [start, end])
        parts.append(_by_date(dq))
    days = pd.DatetimeIndex(pd.date_range(start, end, freq="D"), name="Score_Date")
    out = pd.concat([p.apply(pd.to_numeric) for p in parts], axis=1).reindex(days)
    for col in ["Agg_Rows", "Pre_First_Rows", "Label_Rows", "Score_Rows", "Scored_Rows",
                "DQ_Left_Out_Rows", "DQ_Superseded_Rows"] + [f"{k}_T{h}" for h in horizons for k in ("Null", "Pos")]:
        out[col] = out[col].fillna(0).astype("int64") if col in out else 0
    return out


def compute(counts: pd.DataFrame, horizons: Sequence[int], horizon_date: date | None, end: date,
            window_days: int, th: QCThresholds) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Pure: per-day QC table (Score_Date index) and the alerts, from :func:`read_counts`."""
    t = counts.copy()
    last_complete = {}
    for h in horizons:
        done = pd.Series(False, index=t.index) if horizon_date is None else \
            (t.index + pd.Timedelta(days=h) <= pd.Timestamp(horizon_date))
        done = np.asarray(done) & (t["Label_Rows"].to_numpy() > 0)
        t[f"Label_Complete_T{h}"] = done.astype("int64")
        known = t["Label_Rows"] - t[f"Null_T{h}"]
        t[f"Pos_Rate_T{h}"] = (t[f"Pos_T{h}"] / known.where(known > 0)).where(done)
        t[f"Null_Share_T{h}"] = (t[f"Null_T{h}"] / t["Label_Rows"].where(t["Label_Rows"] > 0)).where(done)
        last_complete[h] = t.index[done].max() if done.any() else None
    scored = (t["Score_Rows"] > 0) | (t.index == pd.Timestamp(end))
    share = 1 - t["Scored_Rows"] / t["Pre_First_Rows"].where(t["Pre_First_Rows"] > 0)
    t["Score_Null_Share"] = share.where(scored)

    alerts = []
    recent = t.index > pd.Timestamp(end) - pd.Timedelta(days=window_days)

    def alert(day, check, subject, value, threshold, message):
        alerts.append({"Score_Date": day.date(), "Check_Name": check, "Subject": subject,
                       "Value": float(value), "Threshold": float(threshold), "Message": message})

    # Positive rate of the longest horizon against its median over the preceding days.
    h = max(horizons)
    rates = t[f"Pos_Rate_T{h}"]
    complete_days = rates.dropna()
    if last_complete[h] is not None:
        check_from = last_complete[h] - pd.Timedelta(days=window_days - 1)
        for day in complete_days.index[complete_days.index >= check_from]:
            before = complete_days[complete_days.index < day].tail(th.pos_rate_median_days)
            if len(before) < th.pos_rate_median_days:
                continue
            med = float(before.median())
            known = t.at[day, "Label_Rows"] - t.at[day, f"Null_T{h}"]
            if med <= 0 or med * known < MIN_EXPECTED_POSITIVES:
                continue
            dev = abs(complete_days[day] - med) / med
            expected = med * known  # positives the median predicts for the day's rows
            z = abs(complete_days[day] * known - expected) / expected ** 0.5
            if dev > th.pos_rate_deviation and z >= POS_RATE_MIN_Z:
                alert(day, "pos_rate_deviation", f"T{h}", dev, th.pos_rate_deviation,
                      f"{day.date()}: T{h} positive rate {complete_days[day]:.4f} deviates {dev:.0%} "
                      f"from its {th.pos_rate_median_days}-day median {med:.4f}")
    # NULL shares: complete label days in the window of each horizon, scored days, the latest day.
    for hh in horizons:
        col = f"Null_Share_T{hh}"
        if last_complete[hh] is None:
            continue
        since = last_complete[hh] - pd.Timedelta(days=window_days - 1)
        for day, value in t.loc[t.index >= since, col].dropna().items():
            if value > th.null_share_max:
                alert(day, "null_share", f"label_T{hh}", value, th.null_share_max,
                      f"{day.date()}: {value:.0%} of label_T{hh} are NULL although D+{hh} has passed")
    for day, value in t.loc[recent, "Score_Null_Share"].dropna().items():
        if value > th.null_share_max:
            alert(day, "null_share", "scores", value, th.null_share_max,
                  f"{day.date()}: {value:.0%} of Pre_First_Target rows have no score")
    t["Alerts"] = 0
    for a in alerts:
        t.loc[pd.Timestamp(a["Score_Date"]), "Alerts"] += 1
    return t, alerts


def run_qc(settings: Settings, window_days: int = 30, end: date | None = None) -> dict[str, Any]:
    """Compute QC for the window ending at ``end`` (default: latest aggregate day), store it.

    Besides FA_QC_DAILY and FA_QC_ALERTS: the freshness of the source files, the monitor
    of the scored days (FA_MODEL_MONITOR) and their drift (FA_DRIFT); ml/monitor.py.
    Returns {"table": DataFrame (one row per day), "alerts": [...], "summary": text}.
    """
    from ml import freshness, monitor, runlog
    from ml.errors import DataError

    horizons = settings.target.horizons
    code = settings.target.code
    th = settings.qc
    with open_target(settings) as db:
        first, last = score_date_range(db, settings)
        end = end or last
        horizon_date = label_horizon(db, settings, horizons) if db.table_exists(settings.labels_table) else None
        keep_from = end - timedelta(days=window_days + max(horizons) - 1)
        start = max(first, keep_from - timedelta(days=th.pos_rate_median_days))
        log(f"qc: {start} .. {end}, labels complete up to {horizon_date}")
        counts = read_counts(db, settings, start, end)
        table, alerts = compute(counts, horizons, horizon_date, end, window_days, th)
        table = table[table.index >= pd.Timestamp(max(first, keep_from))]
        extra_lines = []
        try:
            latest = freshness.latest_files(settings, end)
            alerts += freshness.check(latest, end, th)
            extra_lines.append(freshness.summary_line(latest, end, th))
        except DataError as exc:  # no source to look at (a target-only copy): say so
            extra_lines.append(freshness.summary_line(None, end, th, str(exc)))
        written = 0
        versions: dict[str, str] = {}
        if db.table_exists(settings.scores_table):
            lo = max(first, keep_from)
            summary = monitor.score_summary(db, settings, lo, end)
            written += monitor.update_monitor(db, settings, lo, end, horizon_date, summary, counts)
            perf_alerts, lines = monitor.monitor_alerts(db, settings, end)
            n_drift, facts = monitor.update_drift(db, settings, lo, end, summary)
            written += n_drift
            psi_alerts, line = monitor.drift_alerts(facts, th, end)
            alerts += perf_alerts + psi_alerts
            extra_lines += lines + [line]
            if end in summary.index:
                versions = {f"T{h}": summary.at[end, f"vmin_{h}"] for h in horizons
                            if isinstance(summary.at[end, f"vmin_{h}"], str)}
        run_at = registry.utc_now()
        out = table.reset_index()
        out["Score_Date"] = out["Score_Date"].dt.date
        out["Target_Code"] = code
        out["Run_At"] = run_at
        late = sum(1 for a in alerts if a["Score_Date"] == end) - int(out.loc[out["Score_Date"] == end, "Alerts"].sum())
        out.loc[out["Score_Date"] == end, "Alerts"] += late  # the checks of the run day itself
        out = out[[c for c, _ in daily_columns(horizons)]]
        db.ensure_table(QC_DAILY, daily_columns(horizons), primary_key=("Target_Code", "Score_Date"))
        db.ensure_table(QC_ALERTS, ALERT_COLUMNS)
        db.ensure_columns(QC_ALERTS, ADDED_ALERT_COLUMNS)
        with db.transaction():
            written += db.replace_rows(QC_DAILY, out, "Target_Code = ? AND Score_Date >= ? AND Score_Date <= ?",
                                       [code, out["Score_Date"].min(), out["Score_Date"].max()])
            # A rerun for the same day replaces that run's alerts (rows of older releases,
            # without QC_Date, stay as they were).
            written += db.replace_rows(
                QC_ALERTS, pd.DataFrame([{"Run_At": run_at, "Target_Code": code, "QC_Date": end, **a}
                                         for a in alerts],
                                        columns=[c for c, _ in ALERT_COLUMNS + ADDED_ALERT_COLUMNS]),
                "Target_Code = ? AND QC_Date = ?", [code, end])
    runlog.note(rows_written=written, model_versions=versions)
    text = summarize(out, alerts, horizons, end, window_days, extra_lines)
    return {"table": out, "alerts": alerts, "summary": text}


def alert_line(alerts: list[dict[str, Any]], shown: int = 3) -> str:
    """The one Error line of a run with alerts: their count and the first few, by check."""
    text = "; ".join(f"{a['Check_Name']}: {a['Message']}" for a in alerts[:shown])
    more = f"; and {len(alerts) - shown} more (FA_QC_ALERTS)" if len(alerts) > shown else ""
    return f"QC raised {len(alerts)} alert(s): {text}{more}"


def summarize(table: pd.DataFrame, alerts: list[dict], horizons: Sequence[int], end: date,
              window_days: int, extra: Sequence[str] = ()) -> str:
    """A few readable lines: the latest day, the recent positive rates, the alerts."""
    latest = table[table["Score_Date"] == end]
    lines = [f"QC {end} (window {window_days} days)"]
    if not latest.empty:
        r = latest.iloc[0]
        share = r["Score_Null_Share"]
        lines.append(f"  latest day: {int(r['Agg_Rows'])} aggregate rows, {int(r['Pre_First_Rows'])} "
                     f"Pre_First_Target, {int(r['Label_Rows'])} label rows, {int(r['Score_Rows'])} scored"
                     + ("" if pd.isna(share) else f" (score NULL share {share:.1%})"))
    for h in horizons:
        rates = table[f"Pos_Rate_T{h}"].dropna()
        if rates.empty:
            lines.append(f"  T{h}: no label-complete day in the window")
        else:
            lines.append(f"  T{h}: positive rate {rates.iloc[-1]:.4f} on the last complete day, "
                         f"median {rates.median():.4f} over {len(rates)} complete days")
    dq = int(table["DQ_Left_Out_Rows"].sum())
    lines.append(f"  data quality: {dq} source rows left out in the window (FA_DATA_QUALITY)")
    lines += list(extra)
    lines.append(f"  alerts: {len(alerts)}")
    lines += [f"  ALERT {a['Check_Name']}: {a['Message']}" for a in alerts[:20]]
    return "\n".join(lines)
