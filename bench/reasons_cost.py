"""What reason codes add to scoring, at 50k rows: python -m bench.reasons_cost [ROWS].

Uses the active models of the environment's target DB (e.g. the 2k demo world) and a
synthetic matrix of ROWS (default 50,000) rows drawn with replacement from the latest
day's Pre_First_Target rows (seed 0). Times, median of 3 runs, in-process:

- ``predict``: what ``score`` computes today (3 horizons, calibrated, monotone) and the
  scores frame;
- ``reasons``: the T30 ``pred_contribs`` and the top-3 rows (ml/reasons.py); once also
  the exact TreeSHAP contributions, for comparison;
- ``write_scores`` / ``write_reasons``: replace_rows of the day into a scratch DuckDB file
  (ROWS score rows, 3 x ROWS reason rows), as score_day writes them.

Prints one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main(rows: int = 50_000) -> None:
    from ml import reasons, registry
    from ml.config import load_settings
    from ml.dataset import load_day, matrix
    from ml.db import DuckDatabase, open_target
    from ml.score import ensure_reasons_table, ensure_scores_table, latest_score_date, monotone

    settings = load_settings()
    code, horizons = settings.target.code, settings.target.horizons
    with open_target(settings, read_only=True) as db:
        models = [registry.load_model(settings, registry.require_active(db, code, h)) for h in horizons]
        day = latest_score_date(db, settings)
        frame = load_day(db, settings, day)
    rng = np.random.default_rng(0)
    X = matrix(frame)[rng.integers(0, len(frame), rows)]
    depots = [f"{i:08d}" for i in range(rows)]
    longest = models[-1]
    times: dict[str, list[float]] = {k: [] for k in ("predict", "reasons", "write_scores", "write_reasons")}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = DuckDatabase(str(Path(tmp) / "scratch.duckdb"), threads=settings.duckdb_threads)
        ensure_scores_table(scratch, settings)   # the tables as score_day creates them
        ensure_reasons_table(scratch, settings)
        for _ in range(3):
            t0 = time.perf_counter()
            probs = monotone(np.column_stack([m.predict(X) for m in models]))
            out = pd.DataFrame({"Score_Date": [day] * rows, "Depot_Number": np.asarray(depots, dtype=object)})
            for i, m in enumerate(models):
                out[f"p_buy_{m.horizon}d"] = probs[:, i]
            for m in models:
                out[f"model_version_{m.horizon}d"] = m.version
            out["scored_at"] = registry.utc_now()
            t1 = time.perf_counter()
            why = reasons.reason_rows(day, depots, reasons.contributions(longest.booster, X, longest.features),
                                      longest.features)
            t2 = time.perf_counter()
            scratch.replace_rows(settings.scores_table, out, "Score_Date = ?", [day])
            t3 = time.perf_counter()
            scratch.replace_rows(reasons.reasons_table(settings), why, "Score_Date = ?", [day])
            t4 = time.perf_counter()
            for key, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[key].append(seconds)
        scratch.close()
    t0 = time.perf_counter()
    reasons.contributions(longest.booster, X, longest.features, exact=True)
    exact_seconds = round(time.perf_counter() - t0, 3)
    med = {k: round(statistics.median(v), 3) for k, v in times.items()}
    trees = len(longest.booster.get_dump())
    print(json.dumps({"rows": rows, "t30_trees": trees, **{f"{k}_seconds": v for k, v in med.items()},
                      "reasons_exact_treeshap_seconds": exact_seconds, "reason_rows": len(why)}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
