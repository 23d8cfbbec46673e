"""Splits with purge gaps: no label window of a part reaches into a later part in time, and
no depot is both in the fit and in the early-stopping part."""

import hashlib
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ml.dataset import FEATURES, Windows, early_stopping_depots, min_training_days, split
from ml.errors import BadInput


def daily_rows(first: date, last: date, horizon: int = 30, depots: int = 1) -> pd.DataFrame:
    days = pd.date_range(first, last, freq="D")
    df = pd.DataFrame([(d, f"D{i:05d}") for i in range(depots) for d in days],
                      columns=["Score_Date", "Depot_Number"])
    for c in FEATURES:
        df[c] = 1.0
    df[f"label_T{horizon}"] = (np.arange(len(df)) % 2).astype(float)
    return df


WINDOWS = Windows(date(2025, 1, 1), date(2025, 6, 30), date(2025, 7, 1), date(2025, 7, 31))


def held_by_hand(depot: str, share: float = 0.2, seed: int = 42) -> bool:
    """The documented rule, read independently: sha256("<seed>:<depot>")[:8] < share * 2**64."""
    return int(hashlib.sha256(f"{seed}:{depot}".encode()).hexdigest()[:16], 16) < share * 2**64


def test_parts_and_their_boundaries():
    # calibration = last 90 days of training; fit and early stopping share the days before it
    assert WINDOWS.calib_start == date(2025, 4, 2)
    assert WINDOWS.parts() == [
        ("fit", date(2025, 1, 1), date(2025, 4, 1)),
        ("early_stopping", date(2025, 1, 1), date(2025, 4, 1)),
        ("calibration", date(2025, 4, 2), date(2025, 6, 30)),
        ("test", date(2025, 7, 1), date(2025, 7, 31)),
    ]


def test_purge_gaps_by_hand_for_t30():
    parts = split(daily_rows(date(2025, 1, 1), date(2025, 7, 31), depots=40), WINDOWS, 30, date(2025, 8, 30))
    # fit time keeps D with D + 30 < 2025-04-02, i.e. D <= 2025-03-02 (61 days)
    for name in ("fit", "early_stopping"):
        assert parts[name]["Score_Date"].min() == pd.Timestamp("2025-01-01")
        assert parts[name]["Score_Date"].max() == pd.Timestamp("2025-03-02")
    # calibration keeps D in [04-02, 06-30] with D + 30 < 07-01 -> D <= 05-31
    assert parts["calibration"]["Score_Date"].min() == pd.Timestamp("2025-04-02")
    assert parts["calibration"]["Score_Date"].max() == pd.Timestamp("2025-05-31")
    # test: the whole window (its labels are all known in this frame), every depot
    assert len(parts["test"]) == 31 * 40
    assert len(parts["fit"]) + len(parts["early_stopping"]) == 61 * 40


@pytest.mark.parametrize("horizon", [7, 14, 30])
def test_no_label_window_overlaps_a_later_part(horizon):
    parts = split(daily_rows(date(2024, 12, 1), date(2025, 8, 31), horizon, depots=30), WINDOWS, horizon,
                  date(2025, 9, 30))
    starts = {name: pd.Timestamp(lo) for name, lo, _ in WINDOWS.parts()}
    later = {"fit": ["calibration", "test"], "early_stopping": ["calibration", "test"],
             "calibration": ["test"]}
    for name, nexts in later.items():
        label_end = parts[name]["Score_Date"] + pd.Timedelta(days=horizon)
        assert len(parts[name]) > 0
        for nxt in nexts:
            assert (label_end < starts[nxt]).all(), (name, nxt)
    # no row outside its window, no row in two parts
    keys = pd.concat([p[["Score_Date", "Depot_Number"]] for p in parts.values()])
    assert not keys.duplicated().any()
    assert parts["fit"]["Score_Date"].min() >= starts["fit"]
    assert parts["test"]["Score_Date"].max() == pd.Timestamp("2025-07-31")


@pytest.mark.parametrize("horizon", [7, 14, 30])
def test_no_depot_in_both_fit_and_early_stopping_and_the_same_days(horizon):
    df = daily_rows(date(2024, 12, 1), date(2025, 8, 31), horizon, depots=200)
    df = df.sample(frac=1.0, random_state=3)          # the rows' order must not matter
    parts = split(df, WINDOWS, horizon, date(2025, 9, 30))
    fit, es = parts["fit"], parts["early_stopping"]
    assert not set(fit["Depot_Number"]) & set(es["Depot_Number"])
    assert set(fit["Score_Date"]) == set(es["Score_Date"])
    # every held-out depot has all its fit-time days in early stopping, and the rule is the
    # documented hash: a second reading of it picks the same depots
    expected = {d for d in df["Depot_Number"].unique() if held_by_hand(d)}
    assert set(es["Depot_Number"]) == expected
    assert es.groupby("Depot_Number")["Score_Date"].nunique().eq(es["Score_Date"].nunique()).all()
    assert 0.1 < len(expected) / 200 < 0.3                   # ~20 %
    # calibration and test keep every depot (held-out ones too)
    assert set(parts["calibration"]["Depot_Number"]) == set(df["Depot_Number"])


def test_holdout_is_deterministic_and_moves_with_the_seed():
    depots = pd.Series([f"{i:06d}" for i in range(2000)])
    a = early_stopping_depots(depots, 0.2, 42)
    assert (a == early_stopping_depots(depots[::-1].reset_index(drop=True), 0.2, 42)[::-1]).all()
    assert 0.18 < a.mean() < 0.22
    b = early_stopping_depots(depots, 0.2, 7)
    assert (a != b).any() and 0.18 < b.mean() < 0.22
    assert early_stopping_depots(depots.iloc[:0], 0.2, 42).shape == (0,)


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
    with pytest.raises(BadInput, match="needs more than 90"):
        Windows(date(2025, 1, 1), date(2025, 3, 31), date(2025, 4, 1), date(2025, 4, 30))
    with pytest.raises(BadInput, match="--train-start must not be after"):
        Windows(date(2025, 6, 1), date(2025, 1, 1), date(2025, 7, 1), date(2025, 7, 31))


def test_minimum_window_is_28_fit_days_plus_purge_plus_calibration():
    assert [min_training_days(h) for h in (7, 14, 30)] == [125, 132, 148]
    start = date(2025, 1, 1)
    w148 = Windows(start, start + timedelta(days=147), date(2025, 7, 1), date(2025, 7, 31))
    w148.require_fit_days((7, 14, 30))                      # exactly the minimum: accepted
    # ... and its fit time keeps exactly 28 days of T30 rows after the purge gap
    parts = split(daily_rows(start, date(2025, 8, 31), depots=30), w148, 30, date(2025, 9, 30))
    fit_days = pd.concat([parts["fit"], parts["early_stopping"]])["Score_Date"]
    assert fit_days.nunique() == 28 and fit_days.max() == pd.Timestamp(start + timedelta(days=27))
    w147 = Windows(start, start + timedelta(days=146), date(2025, 7, 1), date(2025, 7, 31))
    w147.require_fit_days((7, 14))                          # 147 >= 132: fine for T7 and T14
    with pytest.raises(BadInput) as exc:
        w147.require_fit_days((7, 14, 30))
    assert str(exc.value) == ("the training window has 147 days; horizon 30 needs at least 148 "
                              "(28 fit + 30 purge + 90 calibration)")
