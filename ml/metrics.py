"""Ranking and calibration metrics for binary labels (pure functions, numpy in, numbers out).

Shapes: ``y`` is a 1-d array of 0/1 labels, ``p`` a 1-d array of scores in [0, 1] of the
same length. Fractions ``k`` are shares of rows (0.01 = the top 1 %).

Definitions (docs/model.md):

- AP (PR-AUC): sum over distinct score thresholds of (R_i - R_{i-1}) * P_i, the step-wise
  area scikit-learn's ``average_precision_score`` computes (tied scores form one step).
- P@k: precision among the top ``ceil(k * N)`` rows by score. Rows are sorted by score
  descending with a *stable* sort, so ties at the cut are broken by row order (the caller's
  order, Score_Date then Depot_Number in this project), which makes the figure reproducible.
- Lift@k: P@k / base rate. Base rate: mean of ``y``.
- Brier: mean squared difference between ``p`` and ``y``.
- Calibration table: rows sorted by score and cut into 10 groups of (almost) equal size
  (deciles of the score); per decile the mean score and the observed rate. ECE is the
  row-weighted mean absolute gap between the two.
- Intervals: 95 % percentile bootstrap that resamples *depots* (clusters), not rows: the
  rows of one depot on consecutive days are strongly correlated, and a row bootstrap would
  give intervals that are too narrow.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

TOP_FRACTIONS = (0.01, 0.03, 0.05)


def _arrays(y: Sequence, p: Sequence) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype="float64")
    p_arr = np.asarray(p, dtype="float64")
    if y_arr.shape != p_arr.shape or y_arr.ndim != 1:
        raise ValueError("y and p must be 1-d arrays of the same length")
    return y_arr, p_arr


def _order(p: np.ndarray) -> np.ndarray:
    """Indices by score descending; stable, so ties keep the caller's row order."""
    return np.argsort(-p, kind="stable")


def top_n(n_rows: int, k: float) -> int:
    """Rows in the top ``k`` share: ceil(k * N), at least 1 (0 for no rows)."""
    if n_rows == 0:
        return 0
    # round() first so that 0.03 * 100 (= 3.0000000000000004) is 3, not 4.
    return max(1, math.ceil(round(k * n_rows, 9)))


def average_precision(y: Sequence, p: Sequence) -> float:
    """AP as scikit-learn computes it; NaN when there is no positive."""
    y_arr, p_arr = _arrays(y, p)
    return _ap_sorted(y_arr[_order(p_arr)], p_arr[_order(p_arr)])


def _ap_sorted(y_s: np.ndarray, p_s: np.ndarray) -> float:
    if y_s.size == 0 or y_s.sum() == 0:
        return float("nan")
    # The last index of every run of equal scores is one threshold.
    last = np.r_[np.flatnonzero(np.diff(p_s)), y_s.size - 1]
    tps = np.cumsum(y_s)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_at(y: Sequence, p: Sequence, k: float) -> float:
    """Precision among the top ``ceil(k * N)`` rows by score; NaN for no rows."""
    y_arr, p_arr = _arrays(y, p)
    n = top_n(y_arr.size, k)
    if n == 0:
        return float("nan")
    return float(y_arr[_order(p_arr)][:n].mean())


def lift_at(y: Sequence, p: Sequence, k: float) -> float:
    """P@k divided by the base rate; NaN when the base rate is 0."""
    y_arr, p_arr = _arrays(y, p)
    base = y_arr.mean() if y_arr.size else float("nan")
    return float(precision_at(y_arr, p_arr, k) / base) if base > 0 else float("nan")


def brier(y: Sequence, p: Sequence) -> float:
    y_arr, p_arr = _arrays(y, p)
    return float(np.mean((p_arr - y_arr) ** 2)) if y_arr.size else float("nan")


def headline(y: Sequence, p: Sequence) -> dict[str, float]:
    """All headline figures from one sort: ap, p_at_1/3/5, lift_at_1/3/5, base_rate, brier."""
    y_arr, p_arr = _arrays(y, p)
    order = _order(p_arr)
    y_s, p_s = y_arr[order], p_arr[order]
    base = float(y_arr.mean()) if y_arr.size else float("nan")
    out = {"ap": _ap_sorted(y_s, p_s), "base_rate": base, "brier": brier(y_arr, p_arr)}
    for k in TOP_FRACTIONS:
        n = top_n(y_arr.size, k)
        prec = float(y_s[:n].mean()) if n else float("nan")
        name = f"{round(k * 100)}"
        out[f"p_at_{name}"] = prec
        out[f"lift_at_{name}"] = prec / base if base > 0 else float("nan")
    return out


def calibration_table(y: Sequence, p: Sequence, bins: int = 10) -> pd.DataFrame:
    """Per score decile (1 = lowest scores): rows, mean_score, observed_rate.

    Shape: ``bins`` rows (fewer when there are fewer rows than bins).
    """
    y_arr, p_arr = _arrays(y, p)
    if y_arr.size == 0:
        return pd.DataFrame(columns=["decile", "rows", "mean_score", "observed_rate"])
    order = np.argsort(p_arr, kind="stable")
    group = (np.arange(y_arr.size) * bins) // y_arr.size + 1
    frame = pd.DataFrame({"decile": group, "p": p_arr[order], "y": y_arr[order]})
    table = frame.groupby("decile", sort=True).agg(
        rows=("y", "size"), mean_score=("p", "mean"), observed_rate=("y", "mean")
    )
    return table.reset_index()


def expected_calibration_error(y: Sequence, p: Sequence, bins: int = 10) -> float:
    """Row-weighted mean |mean_score - observed_rate| over the score deciles."""
    table = calibration_table(y, p, bins)
    if table.empty:
        return float("nan")
    gap = (table["mean_score"] - table["observed_rate"]).abs()
    return float((gap * table["rows"]).sum() / table["rows"].sum())


def bootstrap_intervals(
    y: Sequence,
    p: Sequence,
    groups: Sequence,
    statistic: Callable[[np.ndarray, np.ndarray], Mapping[str, float]] = headline,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of every figure of ``statistic`` under a cluster bootstrap.

    ``groups`` (e.g. Depot_Number per row) are resampled with replacement; each draw takes
    all rows of the drawn groups. Returns {name: (low, high)}; NaN where undefined.
    """
    y_arr, p_arr = _arrays(y, p)
    codes, _ = pd.factorize(pd.Series(groups), sort=False)
    if y_arr.size == 0 or n_boot <= 0:
        return {}
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    members = np.split(order, bounds)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        picked = rng.integers(0, len(members), len(members))
        idx = np.concatenate([members[g] for g in picked])
        for name, value in statistic(y_arr[idx], p_arr[idx]).items():
            draws.setdefault(name, []).append(value)
    tail = (1 - level) / 2 * 100
    out = {}
    for name, values in draws.items():
        arr = np.asarray(values, dtype="float64")
        if np.all(np.isnan(arr)):
            out[name] = (float("nan"), float("nan"))
        else:
            low, high = np.nanpercentile(arr, [tail, 100 - tail])
            out[name] = (float(low), float(high))
    return out


def evaluate(y: Sequence, p: Sequence, groups: Sequence, n_boot: int = 200,
             seed: int = 0) -> dict:
    """Headline figures, their 95 % intervals, ECE and the decile table, JSON-ready.

    Returns {"rows", "positives", "<figure>": value, "ci": {"<figure>": [low, high]},
    "ece", "calibration": [{decile, rows, mean_score, observed_rate}, ...]}.
    """
    y_arr, p_arr = _arrays(y, p)
    out: dict = {"rows": int(y_arr.size), "positives": int(y_arr.sum())}
    out.update(headline(y_arr, p_arr))
    ci = bootstrap_intervals(y_arr, p_arr, groups, n_boot=n_boot, seed=seed)
    out["ci"] = {k: [lo, hi] for k, (lo, hi) in ci.items()}
    out["ece"] = expected_calibration_error(y_arr, p_arr)
    out["calibration"] = calibration_table(y_arr, p_arr).to_dict(orient="records")
    return out
