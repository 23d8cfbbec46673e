"""The oracle of the demo world (ml/demo/oracle.py): calibrated against realised labels,
monotone in the horizon, deterministic per seed.

The realised labels are read from the generated tables with an independent reading of
docs/rules.md §8 (counting files of §1, cancellations by 'storn' in the Remark): per depot
the first target Purchase with Amount >= 1000 whose Transaction_Number is never cancelled;
label_T(D) = that Order_Date lies in [D+1, D+T].
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml import demo as dd
from ml.demo.oracle import cancel_probability, oracle, oracle_for_world
from ml.demo.simulate import p_effective_ticket

TARGETS = ("LU000DEMO015", "LU000DEMO023")
END = date(2025, 8, 20)
ARGS = dict(depots=500, days=240, seed=5, end_date=END, target_isins=TARGETS)


def first_buys(frames: dict[str, pd.DataFrame]) -> pd.Series:
    """Depot -> Order_Date of its first effective, never-cancelled target purchase."""
    f = frames["cd_Datei"].dropna(subset=["Datei_Datum"])
    f = f[f["Datei_Typ"] == "U"].sort_values(["Datei_Datum", "Import_Zeit", "Datei_ID"])
    counting = f.groupby("Datei_Datum").tail(1)["Datei_ID"]
    o = frames["cd_Order"]
    o = o[o["Datei_ID"].isin(counting)]
    storno = o["Remark"].astype("string").str.lower().str.contains("storn").fillna(False)
    cancelled = set(o.loc[storno.astype(bool), "Transaction_Number"])
    buys = o[~storno.astype(bool) & ~o["Transaction_Number"].isin(cancelled)
             & (o["OrderType"].astype(str) == "Purchase") & o["ISIN"].astype(str).isin(TARGETS)
             & (o["Amount_EUR"] >= 1000)]
    return buys.groupby(buys["Depot_Number"].astype(str))["Order_Date"].min()


@pytest.fixture(scope="module")
def world_and_oracle():
    world = dd.build_world(ARGS["depots"], ARGS["days"], ARGS["seed"], END, TARGETS,
                           bad_rows=False)
    last = world.bdays[-1] - np.timedelta64(30, "D")
    days = np.arange(world.bdays[40], last + 1)[::2]      # calendar days, weekends too
    orc = oracle_for_world(world, days, replicas=8)
    frames = dd.build_frames(ARGS["depots"], ARGS["days"], ARGS["seed"], END, TARGETS,
                             bad_rows=False)
    return world, orc, first_buys(frames)


def test_oracle_mean_agrees_with_realised_labels(world_and_oracle):
    _, orc, fb = world_and_oracle
    first = pd.to_datetime(orc["Depot_Number"].map(fb))
    for T in (7, 14, 30):
        y = ((first > orc["Score_Date"]) & (first <= orc["Score_Date"] + pd.Timedelta(days=T)))
        p = orc[f"oracle_p{T}"]
        assert y.sum() >= 40, "too few positives for a meaningful check"
        # Rows of one depot are correlated: the standard error comes from depot sums.
        d = (y.astype(float) - p).groupby(orc["Depot_Number"]).sum()
        z = d.sum() / np.sqrt((d ** 2).sum())
        assert abs(z) < 4, (T, y.sum(), p.sum(), z)


def test_oracle_ranks_far_better_than_the_base_rate(world_and_oracle):
    from sklearn.metrics import average_precision_score

    _, orc, fb = world_and_oracle
    first = pd.to_datetime(orc["Depot_Number"].map(fb))
    y = (first > orc["Score_Date"]) & (first <= orc["Score_Date"] + pd.Timedelta(days=30))
    assert average_precision_score(y, orc["oracle_p30"]) > 3 * y.mean()


def test_monotone_in_the_horizon_and_probabilities(world_and_oracle):
    _, orc, _ = world_and_oracle
    assert list(orc.columns) == ["Score_Date", "Depot_Number", "oracle_p7", "oracle_p14",
                                 "oracle_p30"]
    assert (orc["oracle_p7"] <= orc["oracle_p14"]).all()
    assert (orc["oracle_p14"] <= orc["oracle_p30"]).all()
    assert orc[["oracle_p7", "oracle_p30"]].stack().between(0, 1).all()
    assert not orc.duplicated(["Score_Date", "Depot_Number"]).any()


def test_depots_with_a_first_buy_by_the_score_date_get_zero(world_and_oracle):
    _, orc, fb = world_and_oracle
    first = pd.to_datetime(orc["Depot_Number"].map(fb))
    done = first <= orc["Score_Date"]
    assert done.sum() > 0 and (orc.loc[done, "oracle_p30"] == 0).all()


def test_deterministic_per_seed_and_world():
    days = [date(2025, 6, 2), date(2025, 6, 3)]
    a = oracle(120, 120, 9, END, TARGETS, days, replicas=4)
    b = oracle(120, 120, 9, END, TARGETS, days, replicas=4)
    c = oracle(120, 120, 10, END, TARGETS, days, replicas=4)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) > 100 and not a.equals(c)
    assert set(a["Score_Date"].dt.date) == set(days)


def test_effective_ticket_and_cancel_probabilities_by_hand():
    # min 1000: 10 % at 1000.00, not the 4 % at 999.99, 6 of 8 round sums, lognormal part.
    from math import erf, log, sqrt
    logn = 1 - 0.5 * (1 + erf((log(999.995) - log(3000)) / 0.8 / sqrt(2)))
    assert p_effective_ticket(3000, 1000) == pytest.approx(0.10 + 0.26 * 6 / 8 + 0.60 * logn)
    assert p_effective_ticket(3000, 5.0) == 1.0
    world = dd.build_world(50, 60, 1, END, TARGETS)
    pc = cancel_probability(world)
    assert pc.max() <= 0.08 + 1e-12 and pc[-1] == pytest.approx(0.08 * 0.3)


def test_a_weekend_day_has_the_fridays_state_and_its_own_window():
    fri, sat = date(2025, 6, 6), date(2025, 6, 7)
    o = oracle(150, 120, 4, END, TARGETS, [fri, sat], replicas=4).set_index(
        ["Depot_Number", "Score_Date"])
    f = o.xs(pd.Timestamp(fri), level="Score_Date")
    s = o.xs(pd.Timestamp(sat), level="Score_Date")
    assert list(f.index) == list(s.index) and len(f) > 100
    # Same replicas: Saturday's window (Fri, Sat + T] contains Friday's (Fri, Fri + T].
    assert (s["oracle_p30"] >= f["oracle_p30"]).all() and (s["oracle_p7"] <= f["oracle_p14"]).all()
    assert (s["oracle_p30"] > f["oracle_p30"]).any() or (s["oracle_p30"] == 0).all()
