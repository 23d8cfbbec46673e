"""docs/rules.md §7b (features v2: holdings, tenure, fund house, co-occurrence), rule by
rule on two hand-built worlds with hand-computed values, against dbt and against the
independent reference (tests/dbt/reference.py).

Fund (config/fund.yml): targets LU000DEMO015, LU000DEMO023; house LU000DEMO031,
LU000DEMO049, LU000DEMO056; min ticket 1000.

Holdings world: U and B files every day 2025-01-02 .. 2025-03-31 (no B file on 03-15 and
03-16), standard depots have cash 1000.00; no target purchase anywhere, so Cooc_Score is
NULL throughout (no first buyer yet). Co-occurrence world: files every day 2025-01-02 ..
2025-02-28, seven depots, first buyers and holders of two ISINs X and Y (m = 20).
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.dbt.harness import DbtHarness, Result, require_dbt_models
from tests.dbt.world import OTHER, OTHER2, World

T1 = "LU000DEMO015"
H1, H2, H3 = "LU000DEMO031", "LU000DEMO049", "LU000DEMO056"
X, Y = OTHER, OTHER2


def holdings_world() -> World:
    w = World(date(2025, 1, 2), date(2025, 3, 31), b_gaps={date(2025, 3, 15), date(2025, 3, 16)})
    u = w.u
    w.depot("TEN1", first="2025-01-10")
    w.holdings_on("TEN1", "2025-01-15", absent=True)
    w.depot("CHG1", positions=[(X, "1", "500.00")])
    w.holdings_on("CHG1", "2025-02-10", cash="1800.00", positions=[(X, "1", "700.00")])
    w.depot("CHG3")
    w.holdings_on("CHG3", "2025-03-14", cash="2000.00")
    w.depot("MAX1", positions=[(X, "10", "600.00"), (Y, "5", "400.00")])
    w.depot("MAX2", positions=[(X, "1", "-100.00")])
    w.depot("MAX3", positions=[(X, "0", "300.00"), (Y, "1", "100.00")])
    w.depot("QUIET2")
    w.depot("HOU1", positions=[(H1, "2", "200.00"), (H2, "0", "50.00"), (X, "1", "100.00")])
    w.depot("HB1")
    w.order(u("2025-01-10"), "HB1-A", "HB1", "2025-01-10", isin=H1, amount="1500.00")
    w.order(u("2025-01-12"), "HB1-B", "HB1", "2025-01-12", isin=H2, amount="999.99")
    w.order(u("2025-01-25"), "HB1-C", "HB1", "2025-01-20", isin=H3, amount="2000.00")  # late
    w.order(u("2025-02-01"), "HB1-D", "HB1", "2025-02-01", isin=H1, amount="2000.00")
    w.order(u("2025-02-05"), "HB1-D", "HB1", "2025-02-01", isin=H1, amount="2000.00",
            remark="Storno")
    w.order(u("2025-02-02"), "HB1-E", "HB1", "2025-02-02", type="Sale", isin=H1,
            amount="5000.00")
    w.depot("HB2")   # an old order delivered in the first file: its 365 days end on 01-03
    w.order(u("2025-01-02"), "HB2-A", "HB2", "2024-01-05", isin=H1, amount="1000.00")
    return w


def cooc_world() -> World:
    w = World(date(2025, 1, 2), date(2025, 2, 28))
    u = w.u
    w.depot("B1", positions=[(X, "1", "100.00")])
    w.order(u("2025-01-10"), "B1-T", "B1", "2025-01-10", isin=T1, amount="2000.00")
    w.depot("B2", positions=[(X, "1", "100.00")])
    w.order(u("2025-01-20"), "B2-T", "B2", "2025-01-15", isin=T1, amount="2000.00")  # late
    w.depot("B3", positions=[(Y, "1", "100.00")])
    w.order(u("2025-01-12"), "B3-T", "B3", "2025-01-12", isin=T1, amount="2000.00")
    w.order(u("2025-01-18"), "B3-T", "B3", "2025-01-12", isin=T1, amount="2000.00",
            remark="Storno")
    w.depot("H1", positions=[(X, "1", "100.00"), (Y, "1", "100.00")])
    w.depot("H2", positions=[(Y, "1", "100.00")])
    w.holdings_on("H2", "2025-02-10", cash="1000.00",
                  positions=[(Y, "1", "100.00"), (X, "1", "100.00")])
    w.depot("N1")
    w.depot("L1", first="2025-01-20", positions=[(X, "1", "100.00")])
    w.order(u("2025-01-20"), "L1-T", "L1", "2025-01-20", isin=T1, amount="2000.00")
    return w


def _result(request, tmp_path_factory, world: World, start: date, end: date) -> Result:
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(tmp_path_factory.mktemp(f"v2_{request.param}"), mp)
        h.write_source(world.frames())
        if request.param == "reference":
            return Result(h.reference(start, end))
        require_dbt_models()
        h.dbt(start, end, command="run")
        return Result(h.read(), h.column_types)


@pytest.fixture(scope="module", params=["reference", "dbt"])
def hold(request, tmp_path_factory) -> Result:
    return _result(request, tmp_path_factory, holdings_world(), date(2025, 1, 1), date(2025, 3, 31))


@pytest.fixture(scope="module", params=["reference", "dbt"])
def cooc(request, tmp_path_factory) -> Result:
    return _result(request, tmp_path_factory, cooc_world(), date(2025, 1, 1), date(2025, 2, 28))


def v(res: Result, day: str, depot: str, col: str):
    row = res.agg(day, depot)
    assert row is not None, f"no aggregate row for ({day}, {depot})"
    return row[col]


def test_output_column_types(hold):
    if hold.column_types is None:
        pytest.skip("types are a property of the dbt tables")
    t = hold.column_types["CD_FA_AGG_BUY_DEMO"]
    assert {c: t[c] for c in ("Tenure_Days", "Cash_Change_7d", "Portfolio_Change_30d",
                              "Max_Position_Share", "House_Positions", "House_Value",
                              "House_Buys_365d", "Cooc_Score")} == {
        "Tenure_Days": "INTEGER", "Cash_Change_7d": "DECIMAL(18,2)",
        "Portfolio_Change_30d": "DECIMAL(18,2)", "Max_Position_Share": "DOUBLE",
        "House_Positions": "INTEGER", "House_Value": "DECIMAL(18,2)",
        "House_Buys_365d": "INTEGER", "Cooc_Score": "DOUBLE"}


def test_tenure_days_from_first_b_file_with_saldo(hold):
    assert hold.agg("2025-01-09", "TEN1") is None
    assert v(hold, "2025-01-10", "TEN1", "Tenure_Days") == 0
    assert hold.agg("2025-01-15", "TEN1") is None          # absent that day: no row
    assert v(hold, "2025-01-16", "TEN1", "Tenure_Days") == 6   # the gap does not reset it
    assert v(hold, "2025-03-31", "TEN1", "Tenure_Days") == 80
    assert v(hold, "2025-01-02", "QUIET2", "Tenure_Days") == 0
    assert v(hold, "2025-03-16", "QUIET2", "Tenure_Days") == 73  # as-of file 03-14, D counts


def test_changes_null_when_not_in_universe_of_d_minus_n(hold):
    assert v(hold, "2025-01-16", "TEN1", "Cash_Change_7d") is None      # 01-09: not yet
    assert v(hold, "2025-01-17", "TEN1", "Cash_Change_7d") == 0
    assert v(hold, "2025-02-08", "TEN1", "Cash_Change_30d") is None     # 01-09
    assert v(hold, "2025-02-09", "TEN1", "Portfolio_Change_30d") == 0
    assert v(hold, "2025-02-14", "TEN1", "Cash_Change_30d") is None     # 01-15: absent
    assert v(hold, "2025-01-08", "CHG1", "Cash_Change_7d") is None      # no B file <= 01-01
    assert v(hold, "2025-01-09", "CHG1", "Cash_Change_7d") == 0         # 01-02: first file


def test_cash_and_portfolio_change(hold):
    row = hold.agg("2025-02-10", "CHG1")
    assert (row["Cash_Change_7d"], row["Portfolio_Change_7d"],
            row["Cash_Change_30d"], row["Portfolio_Change_30d"]) == (800, 200, 800, 200)
    assert v(hold, "2025-02-09", "CHG1", "Cash_Change_7d") == 0   # 02-10's file not known yet
    assert v(hold, "2025-02-11", "CHG1", "Cash_Change_7d") == 0
    row = hold.agg("2025-02-17", "CHG1")
    assert (row["Cash_Change_7d"], row["Portfolio_Change_7d"],
            row["Cash_Change_30d"], row["Portfolio_Change_30d"]) == (-800, -200, 0, 0)


def test_change_uses_as_of_file_of_d_minus_n(hold):
    # no B file on 03-15/16: the as-of file of those days is 03-14 (cash 2000)
    assert v(hold, "2025-03-15", "CHG3", "Cash_Change_7d") == 1000
    assert v(hold, "2025-03-22", "CHG3", "Cash_Change_7d") == -1000   # D-7 = 03-15 -> 03-14
    assert v(hold, "2025-03-23", "CHG3", "Cash_Change_7d") == -1000
    assert v(hold, "2025-03-24", "CHG3", "Cash_Change_7d") == 0


def test_max_position_share(hold):
    assert v(hold, "2025-02-01", "MAX1", "Max_Position_Share") == pytest.approx(0.6)
    assert v(hold, "2025-02-01", "MAX2", "Max_Position_Share") is None   # PV -100 <= 0
    assert v(hold, "2025-02-01", "MAX3", "Max_Position_Share") == pytest.approx(0.75)  # Units 0 too
    assert v(hold, "2025-02-01", "QUIET2", "Max_Position_Share") is None
    assert v(hold, "2025-02-01", "HOU1", "Max_Position_Share") == pytest.approx(200 / 350)


def test_house_positions_and_value(hold):
    row = hold.agg("2025-02-01", "HOU1")
    assert (row["House_Positions"], row["House_Value"]) == (1, 200)   # H2 has Units 0
    row = hold.agg("2025-02-01", "QUIET2")
    assert (row["House_Positions"], row["House_Value"], row["House_Buys_365d"]) == (0, 0, 0)


def test_house_buys_365d(hold):
    got = [v(hold, d, "HB1", "House_Buys_365d") for d in (
        "2025-01-09", "2025-01-10", "2025-01-24", "2025-01-25", "2025-02-01", "2025-02-04",
        "2025-02-05")]
    # 999.99 is no effective buy, the Sale no purchase; HB1-C counts from its delivery
    # (01-25), HB1-D until its cancellation is known (02-05)
    assert got == [0, 1, 1, 2, 3, 3, 2]
    assert [v(hold, d, "HB2", "House_Buys_365d") for d in
            ("2025-01-02", "2025-01-03", "2025-01-04")] == [1, 1, 0]   # [D-364, D]


def test_cooc_null_without_first_buyers(hold):
    assert all(r["Cooc_Score"] is None for r in hold.agg_rows().values())


# Co-occurrence (m = 20). lift_i = (A_i * N_- / A_- + m) / (N_i + m).
def test_cooc_null_before_first_buyer_and_without_positions(cooc):
    assert v(cooc, "2025-01-09", "H1", "Cooc_Score") is None
    assert v(cooc, "2025-01-10", "N1", "Cooc_Score") is None


def test_cooc_first_buyer(cooc):
    # 01-10: B1 bought (held X since 01-02): A_- = 1, N_- = 6; A_X = 1, N_X = 3; A_Y = 0, N_Y = 3
    assert v(cooc, "2025-01-10", "H1", "Cooc_Score") == pytest.approx(26 / 23)   # max(X, Y)
    assert v(cooc, "2025-01-10", "H2", "Cooc_Score") == pytest.approx(20 / 23)   # Y only


def test_cooc_cancelled_first_buy_counts_until_cancellation_known(cooc):
    # B3 (holds Y) bought on 01-12, cancelled by the file of 01-18
    for day in ("2025-01-12", "2025-01-17"):
        assert v(cooc, day, "H1", "Cooc_Score") == pytest.approx(1.0)   # (1*3 + 20) / 23
        assert v(cooc, day, "H2", "Cooc_Score") == pytest.approx(1.0)
    assert v(cooc, "2025-01-18", "H2", "Cooc_Score") == pytest.approx(20 / 23)


def test_cooc_knowledge_time_late_buy(cooc):
    # B2's purchase of 01-15 is delivered on 01-20: not visible on 01-19
    assert v(cooc, "2025-01-19", "H1", "Cooc_Score") == pytest.approx(26 / 23)
    # 01-20: A_- = 2 (B1, B2; L1's first file is its buy's day: not held before), N_- = 7;
    # A_X = 2, N_X = 4 (L1)
    assert v(cooc, "2025-01-20", "H1", "Cooc_Score") == pytest.approx(27 / 24)
    assert v(cooc, "2025-01-20", "L1", "Cooc_Score") == pytest.approx(27 / 24)
    assert v(cooc, "2025-01-20", "H2", "Cooc_Score") == pytest.approx(20 / 23)


def test_cooc_holders_ever_known_by_d(cooc):
    # H2 holds X in the file of 02-10 only: a holder of X from 02-10 on, not before
    assert v(cooc, "2025-02-09", "H1", "Cooc_Score") == pytest.approx(27 / 24)
    assert v(cooc, "2025-02-10", "H1", "Cooc_Score") == pytest.approx(27 / 25)
    assert v(cooc, "2025-02-10", "H2", "Cooc_Score") == pytest.approx(27 / 25)
    assert v(cooc, "2025-02-11", "H1", "Cooc_Score") == pytest.approx(27 / 25)
    assert v(cooc, "2025-02-11", "H2", "Cooc_Score") == pytest.approx(20 / 23)
