"""The dbt project as a whole on a tiny hand-made world.

* `dbt build` passes (models, dbt unit tests, data tests) and a few hand-computed values
  come out (knowledge time of a late delivery and of a late cancellation, labels with
  censoring);
* the fund and date-range vars are validated before any SQL is built;
* incremental runs over a growing source leave exactly the labels of a from-scratch
  rebuild, and the aggregates of a one-shot build (slow).

World (all days 2024-01-01..01-10 have a U and a B file; horizon 2024-01-10):
  001: target buy T1 (2000, 01-03) cancelled by a file of 01-06; target buy T5 (01-08)
  002: non-target buy T2 of 01-02 delivered late in the file of 01-04; deposit 5000 01-02
  003: target buy of 999.99 on 01-05 (below the ticket), of 1000.00 on 01-09
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ml.errors import DbtFailed
from tests.dbt.harness import DbtHarness, require_dbt_models

DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(10)]
DEPOTS = ["001", "002", "003"]


def d(text: str) -> date:
    return date.fromisoformat(text)


def order(file_day: str, tn: str, depot: str, order_day: str, isin: str, amount: float,
          remark: str | None = None, order_type: str = "Purchase") -> dict:
    return {"Datei_ID": d(file_day).day, "Transaction_Number": tn, "Depot_Number": depot,
            "Order_Date": pd.Timestamp(order_day), "OrderType": order_type, "ISIN": isin,
            "Units": 1, "Amount_EUR": amount, "Remark": remark}


def world(until: date | None = None) -> dict[str, pd.DataFrame]:
    """The source tables, restricted to files with Datei_Datum <= until (a growing source)."""
    days = [x for x in DAYS if until is None or x <= until]
    files = pd.DataFrame(
        [{"Datei_ID": x.day, "Datei_Typ": "U", "Datei_Datum": pd.Timestamp(x),
          "Import_Zeit": pd.Timestamp(x) + pd.Timedelta(hours=20), "Datei_Name": f"U{x}"}
         for x in days]
        + [{"Datei_ID": 100 + x.day, "Datei_Typ": "B", "Datei_Datum": pd.Timestamp(x),
            "Import_Zeit": pd.Timestamp(x) + pd.Timedelta(hours=21), "Datei_Name": f"B{x}"}
           for x in days])
    ids = set(files["Datei_ID"])
    orders = pd.DataFrame([
        order("2024-01-03", "T1", "001", "2024-01-03", "LU000DEMO015", 2000),
        order("2024-01-06", "T1", "001", "2024-01-03", "LU000DEMO015", 2000, "STORNO Kauf"),
        order("2024-01-08", "T5", "001", "2024-01-08", "LU000DEMO023", 1500),
        order("2024-01-04", "T2", "002", "2024-01-02", "DE0001234567", 1500),
        order("2024-01-05", "T3", "003", "2024-01-05", "LU000DEMO015", 999.99),
        order("2024-01-09", "T4", "003", "2024-01-09", "LU000DEMO015", 1000.00),
    ])
    bookings = pd.DataFrame([{
        "Datei_ID": 2, "Transaction_Number": "B1", "Depot_Number": "002",
        "Booking_Date": pd.Timestamp("2024-01-02"), "Booking_Type": "Deposit",
        "Amount_EUR": 5000, "Remark": None}])
    saldo = pd.DataFrame([{"Datei_ID": 100 + x.day, "Depot_Number": p, "Cash_EUR": 100}
                          for x in days for p in DEPOTS])
    bestand = pd.DataFrame([{"Datei_ID": 100 + x.day, "Depot_Number": "001",
                             "ISIN": "DE0001234567", "Units": 1, "Market_Value_EUR": 300}
                            for x in days])
    return {
        "cd_Datei": files,
        "cd_Order": orders[orders["Datei_ID"].isin(ids)],
        "cd_Buchung": bookings[bookings["Datei_ID"].isin(ids)],
        "cd_Saldo": saldo,
        "cd_Bestand": bestand,
    }


@pytest.fixture
def harness(tmp_path, monkeypatch):
    require_dbt_models()
    h = DbtHarness(tmp_path / "w", monkeypatch)
    h.write_source(world())
    return h


def test_build_passes_all_tests_with_hand_computed_values(harness):
    harness.dbt(DAYS[0], DAYS[-1], "build")  # raises DbtFailed on any failing test
    t = harness.read()
    agg = t.agg.set_index(["Score_Date", "Depot_Number"])
    labels = t.labels.set_index(["Score_Date", "Depot_Number"])

    def a(day: str, depot: str, col: str):
        value = agg.loc[(pd.Timestamp(day), depot), col]
        return None if pd.isna(value) else value

    def lab(day: str, depot: str, col: str):
        value = labels.loc[(pd.Timestamp(day), depot), col]
        return None if pd.isna(value) else value

    assert len(agg) == 30
    # 001: the cancellation of T1 is known from 01-06 only (knowledge time)
    assert [a(f"2024-01-{i:02d}", "001", "Pre_First_Target") for i in range(1, 11)] == \
        [1, 1, 0, 0, 0, 1, 1, 0, 0, 0]
    assert a("2024-01-05", "001", "Last_Buy_Days") == 2
    assert a("2024-01-06", "001", "Last_Buy_Days") is None
    assert a("2024-01-05", "001", "CancelRate_30d") == 0.0
    assert a("2024-01-06", "001", "CancelRate_30d") == 1.0
    assert a("2024-01-08", "001", "CancelRate_30d") == 0.5
    assert a("2024-01-01", "001", "CancelRate_30d") is None
    assert [a(f"2024-01-{i:02d}", "001", "NewRefs_90d") for i in (3, 6, 8)] == [1, 0, 1]
    assert a("2024-01-01", "001", "Cash_Ratio") == 0.25
    # 002: T2 of 01-02 is known from 01-04; the 7-day window ends after 01-08
    assert [a(f"2024-01-{i:02d}", "002", "Buys_7d") for i in range(1, 11)] == \
        [0, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    assert a("2024-01-02", "002", "Deposit_30d_eff") == 5000
    assert a("2024-01-04", "002", "Avg_Ticket_90d") == 1500
    # 003: 999.99 is below the minimum ticket, 1000.00 is not
    assert a("2024-01-08", "003", "Pre_First_Target") == 1
    assert a("2024-01-09", "003", "Pre_First_Target") == 0
    assert a("2024-01-08", "003", "Buys_30d") == 0
    assert a("2024-01-08", "003", "Turnover_30d") == pytest.approx(999.99)
    # labels: the cancelled first buy is no buy; censoring gives NULL, never 0
    assert lab("2024-01-01", "001", "first_buy_date") == pd.Timestamp("2024-01-08")
    assert lab("2024-01-01", "001", "label_T7") == 1
    assert lab("2024-01-07", "001", "label_T7") == 1
    assert lab("2024-01-03", "002", "label_T7") == 0
    assert lab("2024-01-04", "002", "label_T7") is None
    assert lab("2024-01-01", "002", "label_T14") is None
    assert lab("2024-01-01", "003", "label_T7") == 0
    assert lab("2024-01-01", "003", "label_T14") == 1
    assert lab("2024-01-02", "003", "label_T7") == 1
    assert (pd.Timestamp("2024-01-09"), "003") not in labels.index
    assert (pd.Timestamp("2024-01-03"), "001") not in labels.index


@pytest.mark.parametrize("extra, message", [
    ({"fund": {"code": "DEMO; DROP", "isins": ["LU000DEMO015"], "min_ticket_eur": 1000,
               "horizons": [7]}}, "fund.code"),
    ({"fund": {"code": "DEMO", "isins": ["LU000DEMO01'"], "min_ticket_eur": 1000,
               "horizons": [7]}}, "malformed ISIN"),
    ({"fund": {"code": "DEMO", "isins": ["LU000DEMO015"], "min_ticket_eur": 1000,
               "horizons": [7], "house_isins": ["LU000DEMO03'"]}}, "house_isins: malformed ISIN"),
    ({"fund": {"code": "DEMO", "isins": ["LU000DEMO015"], "min_ticket_eur": 1000,
               "horizons": [7], "house_isins": ["LU000DEMO015"]}}, "is a target ISIN"),
    ({"start_date": "2024-01-05", "end_date": "2024-01-04"}, "before start_date"),
    ({"start_date": "2024-02-30", "end_date": "2024-03-01"}, "not a valid date"),
])
def test_unvalidated_vars_are_compiler_errors(harness, extra, message):
    from ml.dbt import dbt_vars, run_dbt
    from tests.dbt.harness import release_dbt_duckdb

    vars_ = dbt_vars(harness.settings, DAYS[0], DAYS[0])
    vars_.update(extra)
    with pytest.raises(DbtFailed) as err:
        try:
            run_dbt(harness.settings, ["compile", "--select", "int_score_dates",
                                       "int_order_transactions"], vars_)
        finally:
            release_dbt_duckdb()
    assert message in str(err.value) or "Compilation Error" in str(err.value)


@pytest.mark.slow
def test_incremental_runs_equal_a_rebuild(tmp_path, monkeypatch):
    """Runs on a growing source (01-04, 01-06, 01-08, 01-10): labels equal a full refresh
    of the labels, aggregates equal a one-shot build on the final source.

    Horizons 2 and 3 days, so that labels of early days are final (not refreshed for being
    near the horizon) when 001's first buy moves from 01-03 (run 1) to none (run 2: the
    late cancellation) to 01-08 (run 3): only the first_buy_date refresh fixes them.
    """
    require_dbt_models()
    config = tmp_path / "fund.yml"
    config.write_text(
        "target:\n  code: DEMO\n  isins: [LU000DEMO015, LU000DEMO023]\n"
        "  min_ticket_eur: 1000\n  horizons: [2, 3]\n", encoding="utf-8")
    harness = DbtHarness(tmp_path / "w", monkeypatch, config=config)
    steps = [(d("2024-01-01"), d("2024-01-04")), (d("2024-01-05"), d("2024-01-06")),
             (d("2024-01-07"), d("2024-01-08")), (d("2024-01-09"), d("2024-01-10"))]
    for lo, hi in steps:
        harness.write_source(world(until=hi))
        harness.dbt(lo, hi, "run")
    incremental = harness.read()
    first = incremental.labels.set_index(["Score_Date", "Depot_Number"])
    assert first.loc[(pd.Timestamp("2024-01-01"), "001"), "first_buy_date"] == \
        pd.Timestamp("2024-01-08")
    assert first.loc[(pd.Timestamp("2024-01-01"), "001"), "label_T3"] == 0

    from ml.dbt import dbt_vars, run_dbt
    from tests.dbt.harness import release_dbt_duckdb

    try:
        run_dbt(harness.settings, ["run", "--select", "fa_labels", "--full-refresh"],
                dbt_vars(harness.settings, DAYS[0], DAYS[-1]))
    finally:
        release_dbt_duckdb()
    rebuilt = harness.read()
    pd.testing.assert_frame_equal(incremental.labels, rebuilt.labels)
    assert incremental.labels["label_T2"].notna().sum() > 0

    harness.use_target(tmp_path / "oneshot.duckdb")
    harness.dbt(DAYS[0], DAYS[-1], "run")
    oneshot = harness.read()
    pd.testing.assert_frame_equal(incremental.agg, oneshot.agg)
    pd.testing.assert_frame_equal(incremental.labels, oneshot.labels)
