"""Scoring: the active model of every configured horizon -> CD_FA_BUY_<CODE>_ML for one day.

Each artifact's sha256 is verified before use (a changed byte stops the run). The
probabilities are made monotone across horizons on every row (p_7d <= p_14d <= p_30d) by a
running maximum over the horizons in increasing order, the seed's clipping rule. The day is
replaced in one transaction; re-scoring a day gives identical rows except ``scored_at``.
The same transaction replaces the day's reason codes (the top 3 features of the T30 score
per row, ml/reasons.py) in CD_FA_BUY_<CODE>_REASONS.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ml.config import Settings
from ml.dataset import load_day, matrix, score_date_range
from ml.db import SCHEMA, Database, open_target
from ml.log import log
from ml.errors import DataError
from ml import reasons, registry, runlog


def score_columns(horizons: Sequence[int]) -> list[tuple[str, str]]:
    cols = [("Score_Date", "date"), ("Depot_Number", "key")]
    cols += [(f"p_buy_{h}d", "float") for h in horizons]
    cols += [(f"model_version_{h}d", "key") for h in horizons]
    return cols + [("scored_at", "timestamp")]


def ensure_scores_table(db: Database, settings: Settings) -> None:
    db.ensure_table(settings.scores_table, score_columns(settings.target.horizons),
                    primary_key=("Score_Date", "Depot_Number"))


def ensure_reasons_table(db: Database, settings: Settings) -> None:
    """The reasons table; a primary key on SQL Server only (why: ml/reasons.py)."""
    key = reasons.REASON_KEY if db.dialect == "sqlserver" else ()
    db.ensure_table(reasons.reasons_table(settings), reasons.REASON_COLUMNS,
                    primary_key=key, not_null=reasons.REASON_KEY)


def write_day(db: Database, settings: Settings, day: date, scores: pd.DataFrame,
              reason_rows: pd.DataFrame) -> int:
    """Replace ``day`` in the scores and the reasons table in one transaction (both engines).

    Returns the score rows written. A failure anywhere leaves both tables as they were.
    """
    ensure_scores_table(db, settings)
    ensure_reasons_table(db, settings)
    with db.transaction():
        written = db.replace_rows(settings.scores_table, scores, "Score_Date = ?", [day])
        db.replace_rows(reasons.reasons_table(settings), reason_rows, "Score_Date = ?", [day])
    return written


def monotone(probs: np.ndarray) -> np.ndarray:
    """Running maximum along the horizon axis: shape (rows, horizons), horizons increasing."""
    return np.maximum.accumulate(probs, axis=1) if probs.size else probs


def latest_score_date(db: Database, settings: Settings) -> date:
    return score_date_range(db, settings)[1]


def score_day(settings: Settings, day: date | None = None) -> dict[str, Any]:
    """Score one Score_Date (default: the latest in the aggregate table); returns a summary."""
    horizons = settings.target.horizons
    code = settings.target.code
    with open_target(settings) as db:
        day = day or latest_score_date(db, settings)
        rows = [registry.require_active(db, code, h) for h in horizons]
        models = [registry.load_model(settings, r) for r in rows]  # verifies hashes first
        present = db.query_df(
            f"SELECT COUNT(*) AS n FROM {SCHEMA}.{settings.agg_table} WHERE Score_Date = ?", [day]
        ).iloc[0]["n"]
        if int(present) == 0:
            raise DataError(
                f"no aggregate rows for Score_Date {day}: run 'python orchestrate.py backfill "
                f"--start-date {day} --end-date {day}' (or daily) first"
            )
        frame = load_day(db, settings, day)
        log(f"score: {day}: {len(frame)} Pre_First_Target rows, models "
            + ", ".join(f"T{m.horizon}={m.version}" for m in models))
        X = matrix(frame)
        probs = monotone(np.column_stack([m.predict(X) for m in models])) if len(frame) else \
            np.zeros((0, len(models)))
        out = pd.DataFrame({
            "Score_Date": [day] * len(frame),
            "Depot_Number": frame["Depot_Number"].to_numpy(dtype=object),
        })
        for i, m in enumerate(models):
            out[f"p_buy_{m.horizon}d"] = probs[:, i].astype("float64")
        for m in models:
            out[f"model_version_{m.horizon}d"] = m.version
        out["scored_at"] = registry.utc_now()
        longest = models[-1]  # horizons ascending: the T30 model explains the campaign list
        why = reasons.reason_rows(day, out["Depot_Number"].tolist(),
                                  reasons.contributions(longest.booster, X, longest.features),
                                  longest.features)
        written = write_day(db, settings, day, out, why)
        runlog.note(rows_written=written, model_versions={f"T{m.horizon}": m.version for m in models})
        return {
            "score_date": day.isoformat(),
            "rows_scored": written,
            "table": f"{SCHEMA}.{settings.scores_table}",
            "reasons_table": f"{SCHEMA}.{reasons.reasons_table(settings)}",
            **{f"model_T{m.horizon}": m.version for m in models},
            **{f"mean_p_{m.horizon}d": round(float(probs[:, i].mean()), 5) if len(frame) else None
               for i, m in enumerate(models)},
        }
