"""ml/sampling.py: which rows negative down-sampling keeps, and their weights."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.sampling import keep_mask


def frame(n_days: int = 200, depots: int = 50) -> pd.DataFrame:
    days = pd.date_range("2025-01-01", periods=n_days, freq="D")
    df = pd.DataFrame([(d, f"{i:06d}") for d in days for i in range(depots)],
                      columns=["Score_Date", "Depot_Number"])
    df["label_T7"] = 0.0
    df["label_T30"] = 0.0
    return df


def test_positives_and_the_unsampled_part_are_kept_with_weight_one():
    df = frame()
    df.loc[3, "label_T30"] = 1.0          # positive for T30 only, early in the window
    df.loc[5, "label_T7"] = np.nan        # censored is not positive
    keep, weight = keep_mask(df, (7, 30), 0.1, date(2025, 6, 1))
    late = (df["Score_Date"] >= "2025-06-01").to_numpy()
    assert keep[late].all() and (weight[late] == 1.0).all()
    assert keep[3] and weight[3] == 1.0
    early_neg = ~late & (np.arange(len(df)) != 3)
    assert set(weight[early_neg]) == {10.0}
    share = keep[early_neg].mean()
    assert 0.08 < share < 0.12             # ~rate of the 7,450 early negatives


def test_the_choice_is_deterministic_and_rate_one_keeps_everything():
    df = frame(60, 20)
    k1, _ = keep_mask(df, (7, 30), 0.3, date(2030, 1, 1))
    k2, _ = keep_mask(df.copy(), (7, 30), 0.3, date(2030, 1, 1))
    assert (k1 == k2).all()
    k_all, w_all = keep_mask(df, (7, 30), 1.0, date(2030, 1, 1))
    assert k_all.all() and (w_all == 1.0).all()


def test_rate_out_of_range_is_refused():
    with pytest.raises(ValueError):
        keep_mask(frame(5, 2), (7,), 0.0, date(2025, 1, 1))


# ------------------------------------------------------------------ depot sampling

def independent_depot_pick(depot: str, rate: float) -> bool:
    """The rule of ml/sampling.py read again: sha256("depot-sample:<depot>")'s first 8 bytes
    below rate * 2**64."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"depot-sample:{depot}".encode()).digest()[:8], "big") < rate * 2**64


def test_depot_sampling_keeps_whole_depots_by_the_documented_hash():
    from ml.sampling import depot_mask

    df = frame(30, 400)
    keep = depot_mask(df["Depot_Number"], 0.25)
    by_depot = pd.Series(keep).groupby(df["Depot_Number"].to_numpy()).agg(["min", "max"])
    assert (by_depot["min"] == by_depot["max"]).all()          # all rows of a depot, or none
    kept = set(df.loc[keep, "Depot_Number"])
    assert kept == {d for d in df["Depot_Number"].unique() if independent_depot_pick(d, 0.25)}
    assert 0.19 < len(kept) / 400 < 0.31
    assert depot_mask(df["Depot_Number"], 1.0).all()
    with pytest.raises(ValueError):
        depot_mask(df["Depot_Number"], 0.0)


def test_depot_sample_is_independent_of_the_early_stopping_holdout():
    """Same hash family, other salt: the kept depots hold ~the holdout's share, not all of it
    (with the holdout's seed the two would nest and the fit part would vanish)."""
    from ml.dataset import EARLY_STOPPING_SHARE, early_stopping_depots
    from ml.sampling import depot_mask

    depots = pd.Series([f"{i:07d}" for i in range(20_000)])
    kept = depot_mask(depots, 0.25)
    held = early_stopping_depots(depots, EARLY_STOPPING_SHARE, 42)
    share_held_among_kept = held[kept].mean()
    assert abs(share_held_among_kept - EARLY_STOPPING_SHARE) < 0.02


def test_float32_features_give_the_booster_the_same_trees():
    """Training reads features as float32 (ml/dataset.py): XGBoost stores float32 anyway, so
    a booster fitted on the float64 matrix and one on its float32 copy predict the same."""
    from ml.model import xgb

    rng = np.random.default_rng(3)
    X = np.round(rng.lognormal(6, 2, size=(3000, 5)), 2)      # amounts with cents
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (rng.random(3000) < 1 / (1 + np.exp(-(np.log1p(np.nan_to_num(X[:, 0])) - 7)))).astype(int)
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 1, "nthread": 1}
    b64 = xgb().train(params, xgb().DMatrix(X, label=y), 20)
    b32 = xgb().train(params, xgb().DMatrix(X.astype("float32"), label=y), 20)
    assert b64.save_raw("json") == b32.save_raw("json")
    grid = xgb().DMatrix(X[:500])
    assert (b64.predict(grid) == b32.predict(xgb().DMatrix(X[:500].astype("float32")))).all()
