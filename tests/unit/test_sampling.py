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
