"""Scoring split into its phases, in-process: python -m bench.probe YYYY-MM-DD.

Times what ``orchestrate.py score`` does (ml.score.score_day) step by step on the target
DB of the environment: loading the active models (hashes verified) and the day's rows,
computing the probabilities, and replacing the day in the scores table. Prints one JSON
line {rows, load_seconds, predict_seconds, write_seconds}.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date

import numpy as np
import pandas as pd


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
    print(json.dumps({"rows": len(frame), "load_seconds": round(t1 - t0, 3),
                      "predict_seconds": round(t2 - t1, 3), "write_seconds": round(t3 - t2, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
