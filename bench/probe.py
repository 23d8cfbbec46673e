"""Scoring split into its phases, in-process: python -m bench.probe YYYY-MM-DD.

Times what ``orchestrate.py score`` does (ml.score.score_day) step by step on the target
DB of the environment: loading the active models (hashes verified) and the day's rows,
computing the probabilities, and replacing the day in the scores table. Prints one JSON
line {rows, load_seconds, predict_seconds, write_seconds, bulk_*}: bulk_* is the same for
the last 30 days at once (throughput at volume; written to a bench-only scratch table).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

BULK_DAYS = 30
SCRATCH = "BENCH_SCORE_SCRATCH"   # bench-only table in the bench's target DB


def main(day_text: str) -> None:
    from ml import registry
    from ml.config import load_settings
    from ml.dataset import load_day, matrix
    from ml.db import open_target
    from ml.score import ensure_scores_table, monotone

    settings = load_settings()
    day = date.fromisoformat(day_text)
    code, horizons = settings.target.code, settings.target.horizons
    with open_target(settings) as db:
        t0 = time.perf_counter()
        models = [registry.load_model(settings, registry.require_active(db, code, h)) for h in horizons]
        frame = load_day(db, settings, day)
        t1 = time.perf_counter()
        probs = monotone(np.column_stack([m.predict(matrix(frame)) for m in models]))
        t2 = time.perf_counter()
        out = pd.DataFrame({"Score_Date": [day] * len(frame),
                            "Depot_Number": frame["Depot_Number"].to_numpy(dtype=object)})
        for i, m in enumerate(models):
            out[f"p_buy_{m.horizon}d"] = probs[:, i]
        for m in models:
            out[f"model_version_{m.horizon}d"] = m.version
        out["scored_at"] = registry.utc_now()
        ensure_scores_table(db, settings)
        db.replace_rows(settings.scores_table, out, "Score_Date = ?", [day])
        t3 = time.perf_counter()
        bulk = bulk_phase(db, settings, models, day)
    print(json.dumps({"rows": len(frame), "load_seconds": round(t1 - t0, 3),
                      "predict_seconds": round(t2 - t1, 3), "write_seconds": round(t3 - t2, 3), **bulk}))


def bulk_phase(db, settings, models, day: date, days: int = BULK_DAYS) -> dict:
    """Throughput at volume: the Pre_First_Target rows of the ``days`` days up to ``day``
    (a re-score of a month), predicted and written to a scratch table (not the scores
    table) the way score_day writes: replace_rows in one transaction."""
    from ml.dataset import FEATURES, _numeric, matrix
    from ml.db import SCHEMA

    lo = day - timedelta(days=days - 1)
    t0 = time.perf_counter()
    frame = _numeric(db.query_df(
        f"SELECT Score_Date, Depot_Number, {', '.join(FEATURES)} FROM {SCHEMA}.{settings.agg_table} "
        "WHERE Pre_First_Target = 1 AND Score_Date BETWEEN ? AND ?", [lo, day]))
    t1 = time.perf_counter()
    X = matrix(frame)
    probs = np.column_stack([m.predict(X) for m in models])
    t2 = time.perf_counter()
    out = pd.DataFrame({"Score_Date": frame["Score_Date"].dt.date.to_numpy(dtype=object),
                        "Depot_Number": frame["Depot_Number"].to_numpy(dtype=object)})
    for i, m in enumerate(models):
        out[f"p_buy_{m.horizon}d"] = probs[:, i]
    db.ensure_table(SCRATCH, [("Score_Date", "date"), ("Depot_Number", "key")]
                    + [(f"p_buy_{m.horizon}d", "float") for m in models])
    db.replace_rows(SCRATCH, out, "Score_Date BETWEEN ? AND ?", [lo, day])
    t3 = time.perf_counter()
    return {"bulk_rows": len(frame), "bulk_read_seconds": round(t1 - t0, 3),
            "bulk_predict_seconds": round(t2 - t1, 3), "bulk_write_seconds": round(t3 - t2, 3)}


if __name__ == "__main__":
    main(sys.argv[1])
