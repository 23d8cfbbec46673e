"""The fund comes from FA_CONFIG (via the dbt var `fund`): code, ISINs, minimum ticket,
horizons all change what dbt computes. A second fund on a tiny world, dbt vs hand values.

Fund ALT: target DE0001234567 only, min ticket 500, horizons [5, 10]. World: files every
day 2025-05-01 .. 2025-05-31, depots A1..A3 with cash 1000.00. Horizon 2025-05-31.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.dbt import reference
from tests.dbt.harness import DbtHarness, Result, require_dbt_models
from tests.dbt.world import OTHER, World

START, END = date(2025, 5, 1), date(2025, 5, 31)
CONFIG = """\
target:
  code: ALT
  isins: [DE0001234567]
  min_ticket_eur: 500
  horizons: [5, 10]
"""


def alt_world() -> World:
    w = World(START, END)
    for depot in ("A1", "A2", "A3"):
        w.depot(depot)
    # A1: 500.00 of the ALT target on 05-10 -> effective buy and target purchase.
    w.order(w.u("2025-05-10"), "A1-1", "A1", "2025-05-10", isin=OTHER, amount="500.00")
    # A2: 499.99 of the ALT target -> neither.
    w.order(w.u("2025-05-10"), "A2-1", "A2", "2025-05-10", isin=OTHER, amount="499.99")
    # A3: 5000 of the DEMO fund's ISIN -> an effective buy, but no ALT target purchase.
    w.order(w.u("2025-05-10"), "A3-1", "A3", "2025-05-10", isin="LU000DEMO015", amount="5000.00")
    return w


@pytest.fixture(scope="module", params=["reference", "dbt"])
def res(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"alt_{request.param}")
    cfg = root / "fund_alt.yml"
    cfg.write_text(CONFIG, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp, config=cfg)
        assert h.settings.agg_table == "CD_FA_AGG_BUY_ALT"
        h.write_source(alt_world().frames())
        if request.param == "reference":
            return Result(h.reference(START, END))
        require_dbt_models()
        h.dbt(START, END, command="run")
        return Result(h.read(), h.column_types)


def test_alt_min_ticket(res):
    assert res.agg("2025-05-10", "A1")["Buys_7d"] == 1       # 500.00 >= 500
    assert res.agg("2025-05-10", "A2")["Buys_7d"] == 0       # 499.99 < 500
    assert res.agg("2025-05-10", "A3")["Buys_7d"] == 1


def test_alt_target_isins(res):
    assert [res.agg(d, "A1")["Pre_First_Target"] for d in ("2025-05-09", "2025-05-10")] == [1, 0]
    assert res.agg("2025-05-10", "A2")["Pre_First_Target"] == 1
    assert res.agg("2025-05-10", "A3")["Pre_First_Target"] == 1   # DEMO's ISIN is not ALT's


def test_alt_horizons(res):
    lab = res.label("2025-05-05", "A1")
    # first buy 05-10: T5 window [05-06, 05-10] -> 1; T10 [05-06, 05-15] -> 1.
    assert lab == {"Score_Date": date(2025, 5, 5), "Depot_Number": "A1",
                   "first_buy_date": date(2025, 5, 10), "label_T5": 1, "label_T10": 1}
    assert res.label("2025-05-04", "A1")["label_T5"] == 0           # 05-09 <= horizon 05-31
    assert res.label("2025-05-22", "A2")["label_T10"] is None       # 06-01 > 05-31
    assert res.label("2025-05-21", "A2")["label_T10"] == 0


def test_alt_tables_named_by_code(res):
    if res.column_types is None:
        pytest.skip("table names are a property of the dbt run")
    assert set(res.column_types) >= {"CD_FA_AGG_BUY_ALT", "CD_FA_LABELS_ALT"}
    assert list(res.column_types["CD_FA_LABELS_ALT"]) == [
        "Score_Date", "Depot_Number", "first_buy_date", "label_T5", "label_T10"]


def test_alt_without_house_isins_has_null_house_features(res):
    # ALT configures no target.house_isins (rules §7b): the house features are NULL, the
    # other features v2 are not
    row = res.agg("2025-05-10", "A3")
    assert (row["House_Positions"], row["House_Value"], row["House_Buys_365d"]) == (None, None, None)
    assert row["Tenure_Days"] == 9
