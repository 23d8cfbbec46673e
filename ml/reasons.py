"""Reason codes: the features that moved a depot's T30 score most, per scored row.

XGBoost's ``pred_contribs`` splits each row's raw margin (the log-odds before the sigmoid
and before calibration) exactly into one contribution per feature plus a bias term:
``sum(contributions) + bias == margin``. A positive contribution pushed the depot up the
list, a negative one down. The bias is the same for every row and explains nothing, so it
is left out. The contributions are XGBoost's fast path-based ones (``approx_contribs``,
Saabas: along each tree's decision path, every split's change of the expected leaf value
goes to the split's feature), not the exact TreeSHAP values: at 50k rows TreeSHAP took
16.7 s against 0.3 s (docs/performance.md, *Scoring*), and for naming the three strongest
drivers of a score the two agree closely; both add up to the margin.

Per row the ``TOP_K`` (3) features with the largest absolute contribution are kept,
ranked 1..3; ties are broken by the feature order of ``ml.features.FEATURES`` (a stable
sort), so the ranks are reproducible. The model is the one of the longest configured
horizon (T30): the list campaign teams work from.

Table ``CD_FA_BUY_<CODE>_REASONS`` (Score_Date, Depot_Number, Rank, Feature,
Contribution): ``TOP_K`` rows per scored row, written by ``score`` in the same transaction
as the scores (ml/score.py). Contribution is in log-odds of the raw booster. Its key
(Score_Date, Depot_Number, Rank) is a clustered primary key on SQL Server; on DuckDB the
table has none: DuckDB's index made the DELETE + re-INSERT of a rescored day's 150k
rows in one transaction take 7-16 s instead of 0.2-0.4 s, and its zone maps serve the
Score_Date filter. The writer replaces whole days, so the grain holds by construction
(tests/unit/test_reasons.py checks it).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ml.config import Settings

TOP_K = 3
REASON_COLUMNS = [("Score_Date", "date"), ("Depot_Number", "key"), ("Rank", "int"),
                  ("Feature", "key"), ("Contribution", "float")]
REASON_KEY = ("Score_Date", "Depot_Number", "Rank")


def reasons_table(settings: Settings) -> str:
    return f"CD_FA_BUY_{settings.target.code}_REASONS"


def contributions(booster: Any, X: np.ndarray, features: Sequence[str], exact: bool = False) -> np.ndarray:
    """Per-feature contributions to the raw margin, shape (rows, len(features) + 1).

    The last column is the bias. ``exact``: TreeSHAP (about 50 times slower) instead of
    the path-based contributions (see the module docstring).
    """
    from ml.model import xgb

    if X.shape[0] == 0:
        return np.zeros((0, len(features) + 1))
    dm = xgb().DMatrix(X, feature_names=list(features), missing=np.nan)
    return np.asarray(booster.predict(dm, pred_contribs=True, approx_contribs=not exact), dtype="float64")


def top_features(contribs: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest |contribution| per row (pure).

    ``contribs``: shape (rows, features) without the bias column. Returns (index, value),
    both shape (rows, min(k, features)); ties keep the lower feature index first.
    """
    k = min(k, contribs.shape[1])
    order = np.argsort(-np.abs(contribs), axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(contribs, order, axis=1)


def reason_rows(day: date, depots: Sequence[str], contribs: np.ndarray,
                features: Sequence[str], k: int = TOP_K) -> pd.DataFrame:
    """The reasons table rows of one day (pure): ``k`` rows per depot, by depot then rank.

    ``contribs`` as from :func:`contributions` (the bias column last, dropped here).
    """
    n = len(depots)
    if n == 0:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c, _ in REASON_COLUMNS})
    idx, val = top_features(contribs[:, : len(features)], k)
    kk = idx.shape[1]
    names = np.asarray(list(features), dtype=object)
    return pd.DataFrame({
        "Score_Date": [day] * (n * kk),
        "Depot_Number": np.repeat(np.asarray(depots, dtype=object), kk),
        "Rank": np.tile(np.arange(1, kk + 1, dtype="int64"), n),
        "Feature": names[idx.ravel()],
        "Contribution": val.ravel().astype("float64"),
    })
