"""Features v2 from orders and bookings (docs/rules.md §7a), rule by rule, on a hand-built world.

As tests/dbt/test_rules.py: the world is computed by dbt and by tests/dbt/reference.py and
every test runs against both, with values computed by hand from the rules. Each scenario
has its own depot. A knowledge-time test at the end runs dbt on the source as it was
known on one day and shows that no §7a value of that day or before moves when the later
files arrive.

World: U and B files every day 2024-01-02 .. 2025-03-31 (the 365-day windows need a year of
history); every depot has cash 1000.00 in every B file. Score_Dates 2025-01-01 .. 2025-03-05.
Fund (config/fund.yml): targets LU000DEMO015, LU000DEMO023; min ticket 1000.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.dbt import reference
from tests.dbt.harness import (DbtHarness, Result, decimal_tolerances, engine_result,
                               require_dbt_models)
from tests.dbt.test_rules import agg, pick
from tests.dbt.world import OTHER, OTHER2, OTHER3, World, known_by

T1, T2 = "LU000DEMO015", "LU000DEMO023"
START, END = date(2025, 1, 1), date(2025, 3, 5)
KNOWN_DAY = date(2025, 1, 24)      # the knowledge-time test's day (before DEP1's late file)


def v2_world() -> World:
    w = World(date(2024, 1, 2), date(2025, 3, 31))
    u = w.u

    # --- DEP1: deposits by recency, a late delivery, a cancellation, a withdrawal
    w.depot("DEP1")
    w.booking(u("2025-01-10"), "DEP1-A", "DEP1", "2025-01-10", amount="1000.00")
    w.booking(u("2025-01-25"), "DEP1-B", "DEP1", "2025-01-20", amount="500.00")   # 5 days late
    w.booking(u("2025-02-01"), "DEP1-C", "DEP1", "2025-02-01", amount="300.00")
    w.booking(u("2025-02-05"), "DEP1-C", "DEP1", "2025-02-01", amount="-300.00", remark="Storno")
    w.booking(u("2025-01-15"), "DEP1-W", "DEP1", "2025-01-15", type="Withdrawal", amount="-200.00")
    w.booking(u("2025-01-16"), "DEP1-F", "DEP1", "2025-01-16", type="Fee", amount="5.00")

    # --- DEP2: one old deposit: the 90-day boundary; the recency has no window
    w.depot("DEP2")
    w.booking(u("2024-11-01"), "DEP2-A", "DEP2", "2024-11-01", amount="100.00")

    # --- ORD1: long windows of orders, buys, sales, distinct ISINs
    w.depot("ORD1")
    w.order(u("2024-03-01"), "ORD1-1", "ORD1", "2024-03-01", isin=OTHER, amount="2000.00")
    w.order(u("2024-10-01"), "ORD1-2", "ORD1", "2024-10-01", type="Sale", isin=OTHER, amount="300.00")
    w.order(u("2024-12-10"), "ORD1-3", "ORD1", "2024-12-10", isin=OTHER2, amount="500.00")  # < ticket
    w.order(u("2024-12-15"), "ORD1-4", "ORD1", "2024-12-15", isin=OTHER2, amount="1500.00")
    w.order(u("2025-01-05"), "ORD1-5", "ORD1", "2025-01-05", isin=OTHER, amount="1200.00")
    w.order(u("2025-01-07"), "ORD1-5", "ORD1", "2025-01-05", isin=OTHER, amount="1200.00",
            remark="Storno")
    w.order(u("2025-01-10"), "ORD1-6", "ORD1", "2025-01-10", type="Sale", isin=OTHER, amount="800.00")
    w.order(u("2025-01-12"), "ORD1-7", "ORD1", "2025-01-12", type="TransferOut", isin=OTHER,
            amount="100.00")
    w.order(u("2025-01-14"), "ORD1-8", "ORD1", "2025-01-08", isin=OTHER3, amount="3000.00")  # late

    # --- TGT1: SavingsPlan and TransferIn of the target fund (interest, not purchases)
    w.depot("TGT1")
    w.order(u("2024-06-01"), "TGT1-1", "TGT1", "2024-06-01", type="SavingsPlan", isin=T1,
            amount="100.00")
    w.order(u("2025-01-02"), "TGT1-2", "TGT1", "2025-01-02", type="SavingsPlan", isin=T1,
            amount="100.00")
    w.order(u("2025-01-20"), "TGT1-2", "TGT1", "2025-01-02", type="SavingsPlan", isin=T1,
            amount="100.00", remark="Storno")
    w.order(u("2025-01-10"), "TGT1-3", "TGT1", "2025-01-10", type="SavingsPlan", isin=OTHER,
            amount="100.00")
    w.order(u("2024-12-01"), "TGT1-4", "TGT1", "2024-12-01", type="TransferIn", isin=T2,
            amount="5000.00")
    w.order(u("2025-01-03"), "TGT1-5", "TGT1", "2025-01-03", isin=T1, amount="999.99")

    w.depot("QUIET2")
    return w


@pytest.fixture(scope="module", params=["reference", "dbt"])
def res(request, tmp_path_factory) -> Result:
    """The v2 world's output tables, from dbt or from the reference implementation."""
    return engine_result(request.param, tmp_path_factory.mktemp(f"rules_v2_{request.param}"),
                         v2_world().frames(), START, END)


def decay(*terms: tuple[float, int]) -> float:
    """sum of amount * 0.5^(age / 10) over (amount, age in days)."""
    return sum(a * 0.5 ** (age / 10) for a, age in terms)


def test_column_types(res):
    if res.column_types is None:
        pytest.skip("types are a property of the dbt tables")
    t = res.column_types["CD_FA_AGG_BUY_DEMO"]
    money = ("Deposit_7d", "Deposit_14d", "Deposit_90d", "Withdrawal_30d", "Sales_Proceeds_30d")
    assert {c: t[c] for c in money} == {c: "DECIMAL(18,2)" for c in money}
    assert t["Deposit_Decay"] == "DOUBLE"
    ints = [c for c in reference.TRANSACTION_V2_COLUMNS if c not in money + ("Deposit_Decay",)]
    assert {c: t[c] for c in ints} == {c: "INTEGER" for c in ints}


# ------------------------------------------------------------------------ deposits

DEPOSIT_COLS = ("Deposit_7d", "Deposit_14d", "Deposit_30d_eff", "Deposit_90d", "Days_Since_Deposit")


@pytest.mark.parametrize("day, expected", [
    # 01-10: 1000 in every window; 01-16 is its day 7 (window [01-10, 01-16]).
    ("2025-01-16", (1000.0, 1000.0, 1000.0, 1000.0, 6)),
    ("2025-01-17", (0.0, 1000.0, 1000.0, 1000.0, 7)),
    # 01-24: the 500 of 01-20 is delivered on 01-25, so it is not known yet; 01-10 left the
    # 14-day window [01-11, 01-24].
    ("2025-01-24", (0.0, 0.0, 1000.0, 1000.0, 14)),
    ("2025-01-25", (500.0, 500.0, 1500.0, 1500.0, 5)),
    # 300 of 02-01 is active 02-01 .. 02-04 (its Storno arrives 02-05).
    # (01-20 left the 14-day window [01-21, 02-03].)
    ("2025-02-03", (300.0, 300.0, 1800.0, 1800.0, 2)),
    ("2025-02-05", (0.0, 0.0, 1500.0, 1500.0, 16)),
])
def test_deposits_by_recency(res, day, expected):
    assert tuple(pick(agg(res, day, "DEP1"), *DEPOSIT_COLS).values()) == expected


@pytest.mark.parametrize("day, terms", [
    ("2025-01-16", [(1000, 6)]),
    ("2025-01-24", [(1000, 14)]),                  # the late 500 is not known yet
    ("2025-01-25", [(1000, 15), (500, 5)]),
    ("2025-02-03", [(1000, 24), (500, 14), (300, 2)]),
    ("2025-02-05", [(1000, 26), (500, 16)]),       # the cancelled 300 is gone
])
def test_deposit_decay(res, day, terms):
    assert agg(res, day, "DEP1")["Deposit_Decay"] == pytest.approx(decay(*terms), abs=1e-6)


def test_deposit_90_day_boundary_and_unbounded_recency(res):
    # DEP2: 100 on 2024-11-01; 2025-01-29 is day 90 of the window, 01-30 is outside.
    assert pick(agg(res, "2025-01-29", "DEP2"), "Deposit_90d", "Days_Since_Deposit") == \
        {"Deposit_90d": 100.0, "Days_Since_Deposit": 89}
    assert agg(res, "2025-01-29", "DEP2")["Deposit_Decay"] == pytest.approx(decay((100, 89)), abs=1e-9)
    assert pick(agg(res, "2025-01-30", "DEP2"), "Deposit_90d", "Deposit_Decay", "Days_Since_Deposit") == \
        {"Deposit_90d": 0.0, "Deposit_Decay": 0.0, "Days_Since_Deposit": 90}


def test_withdrawals_are_summed_as_positive_amounts(res):
    # DEP1: Withdrawal -200.00 on 01-15 counts 200 in [01-15, 02-13]; a Fee is no withdrawal.
    assert agg(res, "2025-01-14", "DEP1")["Withdrawal_30d"] == 0.0
    assert agg(res, "2025-01-16", "DEP1")["Withdrawal_30d"] == 200.0
    assert agg(res, "2025-02-13", "DEP1")["Withdrawal_30d"] == 200.0
    assert agg(res, "2025-02-14", "DEP1")["Withdrawal_30d"] == 0.0


# --------------------------------------------------------------------- long windows

ORDER_COLS = ("Orders_90d", "Orders_365d", "Buys_90d", "Buys_365d", "Sales_90d", "Sales_365d",
              "Distinct_Isins_Bought_90d", "Distinct_Isins_Bought_365d")


@pytest.mark.parametrize("day, expected", [
    # 01-06: 90 days = [2024-10-09, 01-06]: 500 (no buy), 1500 and 1200 (OTHER, cancelled
    # only from 01-07); 365 days add 2000 (2024-03-01) and the Sale of 2024-10-01.
    ("2025-01-06", (3, 5, 2, 3, 0, 1, 2, 2)),
    # 01-07: the 1200 of OTHER is cancelled (out of every count).
    ("2025-01-07", (2, 4, 1, 2, 0, 1, 1, 2)),
    # 01-12: + Sale 800 (01-10) and TransferOut (01-12); the buy of 01-08 (OTHER3) arrives
    # only in the file of 01-14.
    ("2025-01-12", (4, 6, 1, 2, 1, 2, 1, 2)),
    ("2025-01-14", (5, 7, 2, 3, 1, 2, 2, 3)),
    # 2025-02-28 is day 365 of the buy of 2024-03-01, 03-01 is outside; 90 days from 02-28
    # = [2024-12-01, 02-28].
    ("2025-02-28", (5, 7, 2, 3, 1, 2, 2, 3)),
    ("2025-03-01", (5, 6, 2, 2, 1, 2, 2, 2)),
])
def test_long_windows(res, day, expected):
    assert tuple(pick(agg(res, day, "ORD1"), *ORDER_COLS).values()) == expected


def test_sales_proceeds(res):
    # Sale 800 on 01-10 counts in [01-10, 02-08]; the Sale of 2024-10-01 is long out.
    assert agg(res, "2025-01-09", "ORD1")["Sales_Proceeds_30d"] == 0.0
    assert agg(res, "2025-01-10", "ORD1")["Sales_Proceeds_30d"] == 800.0
    assert agg(res, "2025-02-08", "ORD1")["Sales_Proceeds_30d"] == 800.0
    assert agg(res, "2025-02-09", "ORD1")["Sales_Proceeds_30d"] == 0.0


# -------------------------------------------------------------------- target interest

TARGET_COLS = ("Target_SavingsPlan_365d", "Target_TransferIn_365d",
               "Days_Since_Target_SavingsPlan", "Pre_First_Target", "Orders_90d")


@pytest.mark.parametrize("day, expected", [
    # 01-01: SavingsPlan of T1 on 2024-06-01, TransferIn of T2 on 2024-12-01 (90 days:
    # [2024-10-04, 01-01] holds only the TransferIn).
    ("2025-01-01", (1, 1, 214, 1, 1)),
    # 01-15: + SavingsPlan T1 01-02 (cancelled 01-20), SavingsPlan of another ISIN (01-10,
    # no target) and a T1 Purchase of 999.99 (no effective buy, no target purchase).
    ("2025-01-15", (2, 1, 13, 1, 4)),
    ("2025-01-20", (1, 1, 233, 1, 3)),
])
def test_target_savings_plan_and_transfer_in(res, day, expected):
    assert tuple(pick(agg(res, day, "TGT1"), *TARGET_COLS).values()) == expected


def test_quiet_depot_zeros_and_nulls(res):
    row = agg(res, "2025-03-05", "QUIET2")
    assert pick(row, *reference.TRANSACTION_V2_COLUMNS) == {
        c: (None if c.startswith("Days_Since") else 0) for c in reference.TRANSACTION_V2_COLUMNS}


# ---------------------------------------------------------------------- knowledge time

@pytest.fixture(scope="module")
def as_known(tmp_path_factory):
    """dbt on the source as known on KNOWN_DAY (files of later days absent) and on the full
    source, both for START..KNOWN_DAY."""
    require_dbt_models()
    full = v2_world().frames()
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("v2_known")
        h = DbtHarness(root, mp)
        then = known_by(full, KNOWN_DAY)
        out["late_numbers"] = (set(full["cd_Buchung"]["Transaction_Number"])
                               - set(then["cd_Buchung"]["Transaction_Number"]))
        for name, frames in (("then", then), ("full", full)):
            h.source_db = root / f"{name}.duckdb"
            mp.setenv("FA_SOURCE_DB", str(h.source_db))
            h.use_target(root / f"fa_{name}.duckdb")
            h.write_source(frames)
            h.dbt(START, KNOWN_DAY)
            out[name] = h.read()
            out[f"{name}_types"] = h.column_types
    return out


@pytest.mark.slow
def test_later_files_do_not_move_earlier_days(as_known):
    """Files delivered after KNOWN_DAY (DEP1's late 500 of 01-20, cancellations, ...) change
    no feature (v2 or any other column of the aggregates) of any Score_Date <= KNOWN_DAY."""
    then, full = as_known["then"].agg, as_known["full"].agg
    assert set(reference.TRANSACTION_V2_COLUMNS) <= set(full.columns)
    tol = decimal_tolerances(as_known["full_types"]["CD_FA_AGG_BUY_DEMO"])
    assert len(then) == len(full) > 0
    diffs = reference.diff_tables(full, then, ["Score_Date", "Depot_Number"], tol)
    assert not diffs, "\n".join(diffs)
    # the later files hold rows dated on or before KNOWN_DAY (DEP1-B: 01-20, delivered
    # 01-25; the Storno of TGT1-2 ...), so the comparison can fail
    assert {"DEP1-B", "DEP1-C"} <= as_known["late_numbers"]
