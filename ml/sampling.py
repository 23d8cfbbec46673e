"""Negative down-sampling of the training rows, so training stays in bounds on large data.

At 50k depots x 24 months the Pre_First_Target rows of a training window are ~20M
(docs/performance.md): loading them whole into pandas, then one copy per horizon, needs far
more than 6 GB, and first buys are rare (a few % of rows are positive for T30). So, before
``keep_all_from`` (the calibration part), every row that is positive for some horizon is
kept and every other row is kept with probability ``rate``, weighted 1/rate, so the
booster sees the same expected class balance and loss (Horvitz-Thompson weights). From
``keep_all_from`` on (calibration and test) every row is kept with weight 1: the isotonic
calibration and every test metric are computed on unsampled data.

The choice is a deterministic hash of (Depot_Number, Score_Date), so a rerun keeps the same
rows on any machine. The window is read a week at a time (CHUNK_DAYS), so memory holds
one week of unsampled rows plus what is kept; the chunk size changes no row. Pure except :func:`load_window_sampled` (reads the DB).

Depot sampling (``depot_rate`` < 1, for worlds where even the unsampled calibration and
test parts do not fit, e.g. 200k depots x 24 months, docs/scale.md): only the depots
whose hash of ("depot-sample", Depot_Number) falls below ``depot_rate`` are kept, in every
part (fit, early stopping, calibration, test). Each chunk is still read whole and filtered
in pandas; at 200k that read, not the kept rows, is most of train's peak memory. Whole depots are a uniform sample of the
population, so no weight is needed: the booster, the isotonic calibration and the test
figures are those of a world of ``depot_rate`` times the depots. The salt keeps the
sample independent of the early-stopping holdout (ml/dataset.py), which hashes the same
depots with the holdout seed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Sequence

import numpy as np
import pandas as pd

from ml.config import Settings
from ml.dataset import early_stopping_depots, label_column, load_window
from ml.db import Database

HASH_BUCKETS = 1 << 20
CHUNK_DAYS = 7  # a week of 200k depots is ~1.1M unsampled rows, a month ~4.8M (docs/scale.md)
DEPOT_SALT = "depot-sample"


def keep_mask(df: pd.DataFrame, horizons: Sequence[int], rate: float,
              keep_all_from: date) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of ``df`` (as from load_window) to keep, and their weights (pure).

    Returns (keep: bool array, weight: float array 1.0 or 1/rate) of len(df).
    """
    if not 0 < rate <= 1:
        raise ValueError("rate must be in (0, 1]")
    sure = (df["Score_Date"] >= pd.Timestamp(keep_all_from)).to_numpy().copy()  # CoW: writable
    for h in horizons:
        sure |= (df[label_column(h)] == 1).to_numpy()
    key = pd.util.hash_pandas_object(df[["Depot_Number", "Score_Date"]], index=False).to_numpy()
    drawn = (key % HASH_BUCKETS) < rate * HASH_BUCKETS
    keep = sure | drawn
    weight = np.where(sure, 1.0, 1.0 / rate)
    return keep, weight


def depot_mask(depots: pd.Series, depot_rate: float) -> np.ndarray:
    """Rows of the sampled depots (bool array of len(depots)); all True at rate 1 (pure)."""
    if not 0 < depot_rate <= 1:
        raise ValueError("depot_rate must be in (0, 1]")
    if depot_rate == 1:
        return np.ones(len(depots), dtype=bool)
    return early_stopping_depots(depots, depot_rate, DEPOT_SALT)


def load_window_sampled(db: Database, settings: Settings, start: date, end: date,
                        horizons: Sequence[int], rate: float, keep_all_from: date,
                        depot_rate: float = 1.0, dtype: str = "float64",
                        chunk_days: int = CHUNK_DAYS) -> pd.DataFrame:
    """load_window's rows, down-sampled as described above, plus a ``weight`` column.

    Read in chunks of ``chunk_days`` Score_Dates (peak memory only: every row's keep and
    weight depend on the row alone, so the result is the same for any chunk size); same
    columns (features as ``dtype``) and order as load_window. ``depot_rate`` < 1: only the
    sampled depots' rows (module doc).
    """
    parts = []
    lo = start
    while lo <= end:
        hi = min(lo + timedelta(days=chunk_days - 1), end)
        chunk = load_window(db, settings, lo, hi, horizons, dtype)
        chunk = chunk[depot_mask(chunk["Depot_Number"], depot_rate)]
        keep, weight = keep_mask(chunk, horizons, rate, keep_all_from)
        parts.append(chunk[keep].assign(weight=weight[keep]))
        del chunk
        lo = hi + timedelta(days=1)
    return pd.concat(parts, ignore_index=True)
