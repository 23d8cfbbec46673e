"""Curves and derived series for the report (pure: arrays and frames in, frames out).

Shapes: ``y`` 0/1 labels and ``p`` scores, 1-d arrays of one length (ml/metrics.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ml.metrics import calibration_table

MAX_POINTS = 400  # points per plotted curve: enough for the eye, small in the file


def _thin(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` points, always keeping the first and last."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def pr_curve(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Precision and recall at every distinct score threshold, highest threshold first.

    Columns threshold, recall, precision; the same steps as the AP of ml/metrics.py
    (tied scores are one threshold), so sum(diff([0, recall]) * precision) is the AP.
    Empty when there is no positive.
    """
    y, p = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64")
    if y.size == 0 or y.sum() == 0:
        return pd.DataFrame(columns=["threshold", "recall", "precision"])
    order = np.argsort(-p, kind="stable")
    y_s, p_s = y[order], p[order]
    last = np.r_[np.flatnonzero(np.diff(p_s)), y_s.size - 1]
    tps = np.cumsum(y_s)[last]
    return pd.DataFrame({"threshold": p_s[last], "recall": tps / tps[-1],
                         "precision": tps / (last + 1)})


def gains_curve(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Cumulative gains: share of rows contacted (by score) vs share of positives found.

    Columns share_rows, share_positives, starting at (0, 0); rows in score order with the
    stable tie order of ml/metrics.py, so the value at share_rows = ceil(k N)/N is
    P@k * top_n / positives. Empty when there is no positive.
    """
    y, p = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64")
    if y.size == 0 or y.sum() == 0:
        return pd.DataFrame(columns=["share_rows", "share_positives"])
    found = np.cumsum(y[np.argsort(-p, kind="stable")])
    n = y.size
    return pd.DataFrame({"share_rows": np.r_[0.0, np.arange(1, n + 1) / n],
                         "share_positives": np.r_[0.0, found / found[-1]]})


def thin(curve: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """At most ``max_points`` rows of a curve (first and last kept), for plotting."""
    return curve.iloc[_thin(len(curve), max_points)].reset_index(drop=True)


def wilson(successes: float, n: float, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion; (nan, nan) for n = 0."""
    if n <= 0:
        return (math.nan, math.nan)
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def calibration_with_intervals(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """The decile table of ml/metrics.py plus a 95 % Wilson interval of each observed rate.

    Columns decile, rows, mean_score, observed_rate, low, high.
    """
    table = calibration_table(y, p, bins)
    bounds = [wilson(r * n, n) for r, n in zip(table["observed_rate"], table["rows"])]
    table["low"] = [b[0] for b in bounds]
    table["high"] = [b[1] for b in bounds]
    return table


def trailing_median(values: pd.Series, days: int) -> pd.Series:
    """Median of the preceding ``days`` non-missing values (not the day itself), as QC
    compares a day's positive rate (ml/qc.py); NaN until ``days`` values precede."""
    known = values.dropna()
    med = known.shift(1).rolling(days, min_periods=days).median()
    return med.reindex(values.index)
