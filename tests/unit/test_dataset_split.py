"""Time splits with purge gaps: no label window of a part reaches into a later part."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ml.dataset import FEATURES, Windows, split
from ml.errors import BadInput


def daily_rows(first: date, last: date, horizon: int = 30) -> pd.DataFrame:
    days = pd.date_range(first, last, freq="D")
    df = pd.DataFrame({"Score_Date": days, "Depot_Number": "D1"})
    for c in FEATURES:
        df[c] = 1.0
    df[f"label_T{horizon}"] = (np.arange(len(days)) % 2).astype(float)
    return df


WINDOWS = Windows(date(2025, 1, 1), date(2025, 6, 30), date(2025, 7, 1), date(2025, 7, 31))


def test_parts_and_their_boundaries():
    # calibration = last 90 days of training; early stopping = the 60 days before it
    assert WINDOWS.calib_start == date(2025, 4, 2)
    assert WINDOWS.es_start == date(2025, 2, 1)
    assert [p[0] for p in WINDOWS.parts()] == ["fit", "early_stopping", "calibration", "test"]


def test_purge_gaps_by_hand_for_t30():
    parts = split(daily_rows(date(2025, 1, 1), date(2025, 7, 31)), WINDOWS, 30, date(2025, 8, 30))
    # fit keeps D with D + 30 < 2025-02-01, i.e. D <= 2025-01-01
    assert parts["fit"]["Score_Date"].max() == pd.Timestamp("2025-01-01")
    # early stopping keeps D in [02-01, 04-01] with D + 30 < 04-02 -> D <= 03-02
    assert parts["early_stopping"]["Score_Date"].min() == pd.Timestamp("2025-02-01")
    assert parts["early_stopping"]["Score_Date"].max() == pd.Timestamp("2025-03-02")
    # calibration keeps D in [04-02, 06-30] with D + 30 < 07-01 -> D <= 05-31
    assert parts["calibration"]["Score_Date"].max() == pd.Timestamp("2025-05-31")
    # test: the whole window (its labels are all known in this frame)
    assert len(parts["test"]) == 31


@pytest.mark.parametrize("horizon", [7, 14, 30])
def test_no_label_window_overlaps_a_later_part(horizon):
    parts = split(daily_rows(date(2024, 12, 1), date(2025, 8, 31), horizon), WINDOWS, horizon, date(2025, 9, 30))
    starts = {name: pd.Timestamp(lo) for name, lo, _ in WINDOWS.parts()}
    later = {"fit": ["early_stopping", "calibration", "test"],
             "early_stopping": ["calibration", "test"], "calibration": ["test"]}
    for name, nexts in later.items():
        label_end = parts[name]["Score_Date"] + pd.Timedelta(days=horizon)
        assert len(parts[name]) > 0
        for nxt in nexts:
            assert (label_end < starts[nxt]).all(), (name, nxt)
    # no row outside its window, no row in two parts
    keys = pd.concat([p["Score_Date"] for p in parts.values()])
    assert keys.is_unique
    assert parts["test"]["Score_Date"].max() == pd.Timestamp("2025-07-31")


def test_censored_rows_never_enter_any_part():
    df = daily_rows(date(2025, 1, 1), date(2025, 7, 31))
    df.loc[df["Score_Date"] >= pd.Timestamp("2025-07-20"), "label_T30"] = np.nan
    parts = split(df, WINDOWS, 30, date(2025, 8, 30))
    assert parts["test"]["Score_Date"].max() == pd.Timestamp("2025-07-19")
    assert parts["test"]["label"].dtype == "int64"


def test_early_positives_past_the_data_horizon_are_left_out():
    # With the data horizon 2025-08-15, T30 labels are complete for D <= 2025-07-16 only;
    # the 1s after it are real buys but their 0s are not known yet: keeping them would bias.
    df = daily_rows(date(2025, 1, 1), date(2025, 7, 31))
    parts = split(df, WINDOWS, 30, date(2025, 8, 15))
    assert parts["test"]["Score_Date"].max() == pd.Timestamp("2025-07-16")
    assert split(df, WINDOWS, 30, None)["test"].empty


def test_window_validation():
    with pytest.raises(BadInput, match="test window must start after"):
        Windows(date(2025, 1, 1), date(2025, 6, 30), date(2025, 6, 30), date(2025, 7, 31))
    with pytest.raises(BadInput, match="needs more than 150"):
        Windows(date(2025, 1, 1), date(2025, 3, 31), date(2025, 4, 1), date(2025, 4, 30))
    with pytest.raises(BadInput, match="--train-start must not be after"):
        Windows(date(2025, 6, 1), date(2025, 1, 1), date(2025, 7, 1), date(2025, 7, 31))
