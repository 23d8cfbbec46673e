"""How the published scores did: FA_MODEL_MONITOR (realized and label-free) and FA_DRIFT.

Both are filled by ``qc`` (ml/qc.py) for the scored days of its window, from the rows
actually written to CD_FA_BUY_<CODE>_ML (with the model version written beside them):

- FA_MODEL_MONITOR, one row per (Target_Code, Score_Date, Horizon): rows scored, the
  label-free estimate (Expected_Positives = sum of the published p_T; Expected_P_At_1 =
  mean p_T over the top 1 % by score, the CBPE idea) and, once the day's labels are
  complete for T (D + T <= the data horizon), the realized Positives, AP, P@1 %, Lift@1 %
  and Brier (ml/metrics.py) against CD_FA_LABELS_<CODE>.
- FA_DRIFT, one row per (Target_Code, Score_Date, Feature): PSI of every model feature and
  of p_buy_<longest>d against the training window of the model that scored the day
  (ml/drift.py).

Cost stays flat: one grouped summary of the window's score rows (joined to their labels)
tells which days changed (new, rescored, labels completed or corrected); only those are
read row by row and recomputed. An unchanged day is left as it is, so a rerun writes
nothing new (docs/operations.md, *Monitor* and *Drift*).

Alerts (QC alert dicts): ``drift_ap`` / ``drift_lift`` when the mean AP / Lift@1 % of the
last ``qc.monitor_days`` complete days scored by the active model falls below
``qc.min_ap_share`` / ``qc.min_lift_share`` of that model's test figure;
``drift_psi`` for every column at PSI level alert on the run day, except the calendar-driven
features of ml.features.CALENDAR_FEATURES (shown, not alerted).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ml.config import QCThresholds, Settings
from ml.dataset import label_column, load_day
from ml.db import SCHEMA, Database
from ml.features import CALENDAR_FEATURES
from ml.metrics import headline, top_n
from ml import drift, registry

MONITOR = "FA_MODEL_MONITOR"
DRIFT = "FA_DRIFT"
MONITOR_COLUMNS = [
    ("Target_Code", "varchar(20)"), ("Score_Date", "date"), ("Horizon", "int"),
    ("Model_Version", "key"), ("Rows_Scored", "int"), ("Labels_Complete", "int"),
    ("Positives", "int"), ("AP", "float"), ("P_At_1", "float"), ("Lift_At_1", "float"),
    ("Brier", "float"), ("Expected_Positives", "float"), ("Expected_P_At_1", "float"),
]
DRIFT_COLUMNS = [
    ("Target_Code", "varchar(20)"), ("Score_Date", "date"), ("Model_Version", "key"),
    ("Feature", "varchar(64)"), ("PSI", "float"), ("Level", "varchar(10)"),
]
TOP_SHARE = 0.01
IN_CHUNK = 500  # Score_Dates per IN (...) list (SQL Server allows < 2,100 parameters)


def _num(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def label_free(p: np.ndarray) -> dict[str, float | None]:
    """Expected_Positives (sum of p) and Expected_P_At_1 (mean p of the top 1 % by p)."""
    p = np.asarray(p, dtype="float64")
    n = top_n(p.size, TOP_SHARE)
    top = np.sort(p)[::-1][:n]
    return {"Expected_Positives": float(p.sum()),
            "Expected_P_At_1": float(top.mean()) if n else None}


def realized(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Positives, AP, P_At_1, Lift_At_1, Brier of label-complete rows (None where undefined)."""
    y, p = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64")
    h = headline(y, p)
    return {"Positives": int(y.sum()), "AP": _num(h["ap"]), "P_At_1": _num(h["p_at_1"]),
            "Lift_At_1": _num(h["lift_at_1"]), "Brier": _num(h["brier"])}


def day_rows(code: str, day: date, frame: pd.DataFrame, horizons: Sequence[int],
             horizon_date: date | None) -> list[dict[str, Any]]:
    """FA_MODEL_MONITOR rows of one scored day (pure).

    ``frame``: the day's score rows in Depot_Number order, with p_buy_<T>d,
    model_version_<T>d and label_T<T> (NaN when unknown) per horizon.
    """
    out = []
    for h in horizons:
        p_col, l_col = f"p_buy_{h}d", label_column(h)
        scored = frame[frame[p_col].notna()]
        p = scored[p_col].to_numpy(dtype="float64")
        versions = scored[f"model_version_{h}d"].dropna().astype(str)
        complete = horizon_date is not None and day + timedelta(days=h) <= horizon_date
        row = {"Target_Code": code, "Score_Date": day, "Horizon": int(h),
               "Model_Version": versions.min() if len(versions) else None,
               "Rows_Scored": int(len(scored)), "Labels_Complete": int(complete),
               "Positives": None, "AP": None, "P_At_1": None, "Lift_At_1": None, "Brier": None,
               **label_free(p)}
        if complete:
            y = pd.to_numeric(scored[l_col], errors="coerce").to_numpy(dtype="float64")
            known = ~np.isnan(y)
            row.update(realized(y[known], p[known]))
        out.append(row)
    return out


def _chunks(days: Sequence[date]) -> list[list[date]]:
    days = list(days)
    return [days[i:i + IN_CHUNK] for i in range(0, len(days), IN_CHUNK)]


def score_summary(db: Database, settings: Settings, lo: date, hi: date) -> pd.DataFrame:
    """Per scored day in [lo, hi]: rows, sum of p and the version per horizon.

    One grouped scan of the window's score rows, without a join (index Score_Date as
    date; columns n_<T>, sum_<T>, vmin_<T>).
    """
    parts = [f"SUM(CASE WHEN p_buy_{h}d IS NULL THEN 0 ELSE 1 END) AS n_{h}, SUM(p_buy_{h}d) AS sum_{h}, "
             f"MIN(model_version_{h}d) AS vmin_{h}" for h in settings.target.horizons]
    df = db.query_df(
        f"SELECT Score_Date, {', '.join(parts)} FROM {SCHEMA}.{settings.scores_table} "
        "WHERE Score_Date >= ? AND Score_Date <= ? GROUP BY Score_Date", [lo, hi])
    if df.empty:
        return df.set_index(pd.Index([], name="Score_Date"))
    df["Score_Date"] = pd.to_datetime(df["Score_Date"]).dt.date
    return df.set_index("Score_Date").sort_index()


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None or pd.isna(a) or pd.isna(b):
        return (a is None or pd.isna(a)) and (b is None or pd.isna(b))
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def changed_days(summary: pd.DataFrame, stored: pd.DataFrame, horizons: Sequence[int],
                 horizon_date: date | None, labels: pd.DataFrame | None = None) -> list[date]:
    """Scored days whose monitor rows are missing or out of date (pure).

    Out of date: for some horizon the stored version, rows scored or Expected_Positives
    (the sum of p) differ from the score table now (rescored), the labels have become
    complete, or, on a complete day, the label table's positives differ from the stored
    ones (a late correction). ``labels``: QC's per-day counts (ml.qc.read_counts; index
    Score_Date, Label_Rows, Pos_T<T>); compared only where the day's label rows and its
    scored rows are as many (the same population), so no day is recomputed forever.
    """
    have = {}
    for r in stored.itertuples(index=False):
        have[(pd.Timestamp(r.Score_Date).date(), int(r.Horizon))] = r
    out = []
    for day, s in summary.iterrows():
        lab = None
        if labels is not None and pd.Timestamp(day) in labels.index:
            lab = labels.loc[pd.Timestamp(day)]
        for h in horizons:
            r = have.get((day, h))
            n = int(s[f"n_{h}"])
            complete = int(horizon_date is not None and day + timedelta(days=h) <= horizon_date)
            stale = (r is None or int(r.Labels_Complete) != complete or int(r.Rows_Scored) != n
                     or _str(r.Model_Version) != _str(s[f"vmin_{h}"])
                     or not _close(r.Expected_Positives, s[f"sum_{h}"] if n else 0.0))
            if not stale and complete and lab is not None and int(lab["Label_Rows"]) == n:
                stale = pd.isna(r.Positives) or int(r.Positives) != int(lab[f"Pos_T{h}"])
            if stale:
                out.append(day)
                break
    return out


def load_scored(db: Database, settings: Settings, days: Sequence[date]) -> pd.DataFrame:
    """Score rows of ``days`` with their labels, by Score_Date then Depot_Number."""
    horizons = settings.target.horizons
    has_labels = db.table_exists(settings.labels_table)
    cols = ", ".join([f"s.p_buy_{h}d, s.model_version_{h}d" for h in horizons]
                     + ([f"l.{label_column(h)}" for h in horizons] if has_labels else []))
    frames = []
    for chunk in _chunks(days):
        marks = ", ".join("?" for _ in chunk)
        if has_labels:  # the labels' own date filter lets the engine read only those days there
            sql = (f"SELECT s.Score_Date, s.Depot_Number, {cols} FROM {SCHEMA}.{settings.scores_table} s "
                   f"LEFT JOIN {SCHEMA}.{settings.labels_table} l ON l.Score_Date = s.Score_Date "
                   f"AND l.Depot_Number = s.Depot_Number AND l.Score_Date IN ({marks}) "
                   f"WHERE s.Score_Date IN ({marks}) ORDER BY s.Score_Date, s.Depot_Number")
            frames.append(db.query_df(sql, list(chunk) + list(chunk)))
        else:
            frames.append(db.query_df(
                f"SELECT s.Score_Date, s.Depot_Number, {cols} FROM {SCHEMA}.{settings.scores_table} s "
                f"WHERE s.Score_Date IN ({marks}) ORDER BY s.Score_Date, s.Depot_Number", list(chunk)))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not has_labels:
        for h in horizons:
            df[label_column(h)] = np.nan
    if not df.empty:
        df["Score_Date"] = pd.to_datetime(df["Score_Date"]).dt.normalize()
        for h in horizons:
            df[f"p_buy_{h}d"] = pd.to_numeric(df[f"p_buy_{h}d"], errors="coerce").astype("float64")
    return df


def _replace_days(db: Database, table: str, code: str, days: Sequence[date], rows: pd.DataFrame) -> int:
    """Replace the rows of ``days`` of one target code in ``table`` (one transaction)."""
    with db.transaction():
        for chunk in _chunks(days):
            db.execute(f"DELETE FROM {SCHEMA}.{table} WHERE Target_Code = ? AND Score_Date IN "
                       f"({', '.join('?' for _ in chunk)})", [code, *chunk])
        return db.insert_df(table, rows) if len(rows) else 0


def update_monitor(db: Database, settings: Settings, lo: date, hi: date, horizon_date: date | None,
                   summary: pd.DataFrame, labels: pd.DataFrame | None = None) -> int:
    """Bring FA_MODEL_MONITOR up to date for the scored days in [lo, hi]; rows written.

    ``summary`` from :func:`score_summary`, ``labels`` QC's per-day counts (see
    :func:`changed_days`)."""
    code, horizons = settings.target.code, settings.target.horizons
    db.ensure_table(MONITOR, MONITOR_COLUMNS, primary_key=("Target_Code", "Score_Date", "Horizon"))
    stored = db.query_df(
        f"SELECT * FROM {SCHEMA}.{MONITOR} WHERE Target_Code = ? AND Score_Date >= ? AND Score_Date <= ?",
        [code, lo, hi])
    stale = changed_days(summary, stored, horizons, horizon_date, labels)
    stored_days = {pd.Timestamp(d).date() for d in stored["Score_Date"]} if len(stored) else set()
    gone = sorted(stored_days - set(summary.index))  # no score rows any more
    if not stale and not gone:
        return 0
    frame = load_scored(db, settings, stale) if stale else pd.DataFrame()
    rows = []
    by_day = dict(iter(frame.groupby("Score_Date", sort=True))) if len(frame) else {}
    for day in stale:
        rows += day_rows(code, day, by_day.get(pd.Timestamp(day), frame.iloc[:0]), horizons, horizon_date)
    out = pd.DataFrame(rows, columns=[c for c, _ in MONITOR_COLUMNS])
    return _replace_days(db, MONITOR, code, sorted(set(stale) | set(gone)), out)


def rolling_alerts(history: pd.DataFrame, model: Mapping[str, Any], th: QCThresholds, end: date,
                   horizon: int) -> tuple[list[dict[str, Any]], str]:
    """drift_ap / drift_lift alerts of one horizon, and a summary line (pure).

    ``history``: FA_MODEL_MONITOR rows of the horizon with Labels_Complete = 1 scored by the
    active ``model`` (a registry row), Score_Date <= end.
    """
    n = th.monitor_days
    last = history.sort_values("Score_Date").tail(n)
    version = str(model["Version"])
    if len(last) < n:
        return [], (f"  T{horizon}: {len(last)} of {n} label-complete scored days of model {version} "
                    "so far: realized AP not judged yet")
    span = f"{pd.Timestamp(last['Score_Date'].iloc[0]).date()} .. {pd.Timestamp(last['Score_Date'].iloc[-1]).date()}"
    alerts, parts = [], []
    for check, col, test_col, share, label in (
            ("drift_ap", "AP", "Test_AP", th.min_ap_share, "AP"),
            ("drift_lift", "Lift_At_1", "Test_Lift_At_1", th.min_lift_share, "Lift@1%")):
        values = pd.to_numeric(last[col], errors="coerce").dropna()
        test = model.get(test_col)
        if values.empty or test is None or pd.isna(test):
            continue
        mean, floor = float(values.mean()), share * float(test)
        parts.append(f"{label} {mean:.4f} (test {float(test):.4f})")
        if mean < floor:
            alerts.append({"Score_Date": end, "Check_Name": check, "Subject": f"T{horizon}",
                           "Value": mean, "Threshold": floor,
                           "Message": f"T{horizon}: mean {label} {mean:.4f} of the last {n} label-complete "
                                      f"days ({span}) is below {share:.0%} of the test {label} "
                                      f"{float(test):.4f} of model {version}"})
    return alerts, f"  T{horizon}: realized over {span}: " + (", ".join(parts) or "no defined figure")


def monitor_alerts(db: Database, settings: Settings, end: date) -> tuple[list[dict[str, Any]], list[str]]:
    """Rolling realized-performance checks of every horizon's active model."""
    code, th = settings.target.code, settings.qc
    alerts, lines = [], []
    for h in settings.target.horizons:
        model = registry.active_row(db, code, h)
        if model is None:
            continue
        hist = db.query_df(
            f"SELECT Score_Date, AP, Lift_At_1 FROM {SCHEMA}.{MONITOR} WHERE Target_Code = ? AND Horizon = ? "
            "AND Labels_Complete = 1 AND Model_Version = ? AND Score_Date <= ?",
            [code, int(h), str(model["Version"]), end])
        a, line = rolling_alerts(hist, model, th, end, h)
        alerts += a
        lines.append(line)
    return alerts, lines


def update_drift(db: Database, settings: Settings, lo: date, end: date, summary: pd.DataFrame
                 ) -> tuple[int, dict[str, Any]]:
    """PSI rows in FA_DRIFT for the scored days in [lo, end] that lack them or were rescored
    with another model, and always for ``end``. Returns (rows written, facts of ``end``:
    {"version", "psi": {column: value}} or {"note": why not})."""
    code, th = settings.target.code, settings.qc
    longest = max(settings.target.horizons)
    db.ensure_table(DRIFT, DRIFT_COLUMNS, primary_key=("Target_Code", "Score_Date", "Feature"))
    stored = db.query_df(
        f"SELECT Score_Date, MIN(Model_Version) AS v FROM {SCHEMA}.{DRIFT} WHERE Target_Code = ? "
        "AND Score_Date >= ? AND Score_Date <= ? GROUP BY Score_Date", [code, lo, end])
    have = {pd.Timestamp(r.Score_Date).date(): r.v for r in stored.itertuples(index=False)}
    todo = []
    for day, s in summary.iterrows():
        version = s[f"vmin_{longest}"]
        if isinstance(version, str) and (day == end or have.get(day) != version):
            todo.append((day, version))
    facts: dict[str, Any] = {"note": f"{end} not scored"}
    if not todo:
        return 0, facts
    refs: dict[str, Any] = {}
    rows, days = [], []
    for day, version in todo:
        if version not in refs:
            row = registry.get_model_row(db, code, longest, version)
            refs[version] = None if row is None else drift.load_reference(settings, row)
        ref = refs[version]
        if ref is None:
            if day == end:
                facts = {"note": f"model {version} has no drift reference (trained before drift.json); retrain"}
            continue
        values = _day_columns(db, settings, day, ref)
        if values is None:
            continue
        psis = drift.day_psi(ref, values)
        days.append(day)
        for col, value in psis.items():
            rows.append({"Target_Code": code, "Score_Date": day, "Model_Version": version,
                         "Feature": col, "PSI": value, "Level": drift.level(value, th)})
        if day == end:
            facts = {"version": version, "psi": psis}
    if not days:
        return 0, facts
    out = pd.DataFrame(rows, columns=[c for c, _ in DRIFT_COLUMNS])
    return _replace_days(db, DRIFT, code, days, out), facts


def _day_columns(db: Database, settings: Settings, day: date, ref: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
    """The day's feature columns (Pre_First_Target rows) and its published score column."""
    frame = load_day(db, settings, day)
    if frame.empty:
        return None
    out = {c: frame[c].to_numpy(dtype="float64") for c in ref["columns"] if c in frame.columns}
    score = ref.get("score")
    if score:
        s = db.query_df(f"SELECT {score} FROM {SCHEMA}.{settings.scores_table} WHERE Score_Date = ?", [day])
        out[score] = pd.to_numeric(s[score], errors="coerce").to_numpy(dtype="float64")
    return out


def drift_alerts(facts: Mapping[str, Any], th: QCThresholds, end: date) -> tuple[list[dict[str, Any]], str]:
    """drift_psi alerts of the run day and the summary line naming the largest movers."""
    if "psi" not in facts:
        return [], f"  drift: not computed ({facts.get('note', 'no scores')})"
    ranked = sorted(facts["psi"].items(), key=lambda kv: -kv[1])
    alerts = [{"Score_Date": end, "Check_Name": "drift_psi", "Subject": col, "Value": value,
               "Threshold": th.psi_alert,
               "Message": f"{end}: PSI of {col} {value:.3f} >= {th.psi_alert} against the training "
                          f"window of model {facts['version']}"}
              for col, value in ranked if drift.level(value, th) == "alert" and col not in CALENDAR_FEATURES]

    def level(col: str, value: float) -> str:
        lv = drift.level(value, th)
        return f"{lv}, calendar-driven: not alerted" if col in CALENDAR_FEATURES and lv == "alert" else lv

    movers = ", ".join(f"{c} {v:.3f} ({level(c, v)})" for c, v in ranked[:3])
    return alerts, f"  drift {end} vs training of {facts['version']}: largest PSI {movers}"
