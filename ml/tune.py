"""A small hyper-parameter search on the fit and early-stopping parts only (``train --tune``).

Per horizon, ``n_trials`` parameter sets are tried (docs/model.md, *Tuning*): trial 0 is the
defaults (TrainParams), the others are distinct draws from SPACE with a random generator
seeded by ``TrainParams.seed``, so a rerun tries the same sets in the same order. Each trial
boosts on the *fit* part with early stopping on the *early-stopping* part (held-out depots,
the same days), exactly as the final fit does, and is scored by the **AP of its best
iteration on the early-stopping part**: AP is what the campaign list and the promotion rule
care about, and the calibration step re-scales probabilities afterwards, so log loss
would also punish a set that ranks well but is scaled badly. The calibration part and the
test part are never read here. The winner is the trial with the highest AP (ties: fewer
trees, then the earlier trial, which favours the defaults).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ml.errors import BadInput
from ml.metrics import average_precision

# The search space: every combination is a candidate (5 * 4 * 5 * 3 * 3 = 900).
SPACE: dict[str, tuple] = {
    "max_depth": (3, 4, 5, 6, 8),
    "learning_rate": (0.03, 0.05, 0.1, 0.2),
    "min_child_weight": (10.0, 25.0, 50.0, 100.0, 200.0),
    "subsample": (0.6, 0.8, 1.0),
    "colsample_bytree": (0.6, 0.8, 1.0),
}
DEFAULT_TRIALS = 24
MAX_TRIALS = 60


def candidates(base, n_trials: int) -> list:
    """TrainParams of the trials: ``base`` first, then distinct draws from SPACE (pure).

    Deterministic in ``base.seed``; draws equal to an earlier trial are skipped.
    """
    if not 1 <= n_trials <= MAX_TRIALS:
        raise BadInput(f"--tune-trials must be between 1 and {MAX_TRIALS}")
    rng = np.random.default_rng(base.seed)
    out = [base]
    seen = {tuple(getattr(base, k) for k in SPACE)}
    while len(out) < n_trials:
        pick = {k: v[int(rng.integers(len(v)))] for k, v in SPACE.items()}
        key = tuple(pick.values())
        if key not in seen:
            seen.add(key)
            out.append(replace(base, **pick))
    return out


def search_params(params) -> dict[str, Any]:
    """The searched fields of a TrainParams (what the trial table records)."""
    return {k: getattr(params, k) for k in SPACE}


def tune_horizon(parts: dict[str, pd.DataFrame], base, features: Sequence[str],
                 n_trials: int = DEFAULT_TRIALS) -> tuple[Any, list[dict[str, Any]]]:
    """Run the trials on parts["fit"] / parts["early_stopping"]; returns (winner, trial table).

    Trial table: one dict per trial in trial order with ``trial``, the SPACE fields,
    ``ap_early_stopping``, ``logloss_early_stopping`` (of the best iteration), ``trees``,
    ``seconds`` and ``chosen`` (True for the winner only).
    """
    from ml.train import boost, dmatrix  # one module for the booster; no import cycle at load

    d_fit = dmatrix(parts["fit"], features)   # built once, binned once, reused by every trial
    es = parts["early_stopping"]
    d_es = dmatrix(es, features)
    y_es = es["label"].to_numpy()
    table = []
    for i, params in enumerate(candidates(base, n_trials)):
        t0 = time.perf_counter()
        booster, best, logloss = boost(params, d_fit, d_es, features)
        ap = average_precision(y_es, booster.predict(d_es))
        table.append({"trial": i, **search_params(params),
                      "ap_early_stopping": None if np.isnan(ap) else round(float(ap), 6),
                      "logloss_early_stopping": round(logloss, 6),
                      "trees": best + 1, "seconds": round(time.perf_counter() - t0, 2), "chosen": False})
    scored = [r for r in table if r["ap_early_stopping"] is not None] or table
    win = min(scored, key=lambda r: (-(r["ap_early_stopping"] or 0.0), r["trees"], r["trial"]))
    win["chosen"] = True
    return replace(base, **{k: win[k] for k in SPACE}), table
