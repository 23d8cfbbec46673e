"""Checks of tests/dbt/reference.py itself on tiny hand-made frames (no dbt, no DuckDB).

The reference judges dbt, so it must not be trusted blindly either: these pin its file
selection, row classes, windows, knowledge time, labels and the comparison helper.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from tests.dbt import reference as ref

FUND = ref.Fund(code="DEMO", isins=("LU000DEMO015",), min_ticket_eur=1000.0, horizons=(7,))
TGT, OTHER = "LU000DEMO015", "DE0001234567"


def files(*rows):
    return pd.DataFrame(rows, columns=["Datei_ID", "Datei_Typ", "Datei_Datum", "Import_Zeit"])


def orders(*rows):
    cols = ["Datei_ID", "Transaction_Number", "Depot_Number", "Order_Date", "OrderType", "ISIN",
            "Units", "Amount_EUR", "Remark"]
    return pd.DataFrame(rows, columns=cols)


def saldo(*rows):
    return pd.DataFrame(rows, columns=["Datei_ID", "Depot_Number", "Cash_EUR"])


D = date


def test_classify_files_latest_import_then_highest_id_and_bad_files():
    f = ref.classify_files(files(
        (1, "U", D(2025, 1, 2), datetime(2025, 1, 2, 20)),
        (2, "U", D(2025, 1, 2), datetime(2025, 1, 2, 21)),     # later import: counts
        (3, " b", D(2025, 1, 2), datetime(2025, 1, 2, 20)),    # ' b' is B; tie with 4
        (4, "B", D(2025, 1, 2), datetime(2025, 1, 2, 20)),     # highest id wins the tie
        (5, "X", D(2025, 1, 2), datetime(2025, 1, 2, 23)),     # bad type
        (None, "U", D(2025, 1, 2), datetime(2025, 1, 2, 23)),  # no id: bad, must not win
    ))
    assert list(f["status"]) == ["superseded", "counting", "superseded", "counting", "bad", "bad"]
    assert ref.data_horizon(f) == pd.Timestamp(2025, 1, 2)


def test_order_classes_first_match_wins():
    base = {"tn": "T", "depot": "1", "date": pd.Timestamp(2025, 3, 20), "type": "Purchase",
            "isin": OTHER, "units": 1, "amount": 100_000, "file_datum": pd.Timestamp(2025, 3, 20)}
    assert ref.order_reason(base) is None
    assert ref.order_reason({**base, "depot": None, "amount": pd.NA}) == "null_key"
    assert ref.order_reason({**base, "type": None, "amount": -1}) == "unknown_type"
    assert ref.order_reason({**base, "isin": None, "amount": pd.NA}) == "bad_isin"
    assert ref.order_reason({**base, "amount": 1_000_000_001}) == "absurd_amount"
    assert ref.order_reason({**base, "amount": 1_000_000_000}) is None        # 10,000,000.00
    assert ref.order_reason({**base, "date": pd.Timestamp(2024, 3, 18)}) == "stale_date"
    assert ref.order_reason({**base, "date": pd.Timestamp(2024, 3, 19)}) is None  # 366 days


def _tiny_world(extra_orders=()):
    """Depot '007' with B files 01-01..01-20 and one purchase of 1000.00 on 01-05."""
    days = [D(2025, 1, n) for n in range(1, 21)]
    fr = {"cd_Datei": files(*[(i + 1, "U", d, datetime(d.year, d.month, d.day, 20))
                              for i, d in enumerate(days)],
                            *[(100 + i, "B", d, datetime(d.year, d.month, d.day, 20))
                              for i, d in enumerate(days)]),
          "cd_Saldo": saldo(*[(100 + i, " 007", "50.00") for i in range(len(days))]),
          "cd_Order": orders((5, "A", "007", D(2025, 1, 5), "Purchase", OTHER, "1", "1000.00",
                              None), *extra_orders)}
    return fr


def test_windows_and_knowledge_time():
    # Cancellation of A arrives in the U file of 01-09 (id 9): counts 01-05..01-08.
    fr = _tiny_world([(9, "A", "007", D(2025, 1, 5), "Purchase", OTHER, "1", "-1000.00",
                       "STORNO")])
    t = ref.build(fr, FUND, D(2025, 1, 4), D(2025, 1, 9))
    agg = {r["Score_Date"].day: r for r in ref.records(t.agg)}
    assert set(agg) == {4, 5, 6, 7, 8, 9}
    assert [agg[d]["Buys_7d"] for d in (4, 5, 8, 9)] == [0, 1, 1, 0]
    assert agg[8]["Last_Buy_Days"] == 3 and agg[9]["Last_Buy_Days"] is None
    assert agg[8]["CancelRate_30d"] == 0.0 and agg[9]["CancelRate_30d"] == 1.0
    assert agg[4]["CancelRate_30d"] is None
    assert agg[9]["Depot_Number"] == "007" and agg[9]["Cash_Ratio"] == 1.0
    assert t.dq.empty                       # the cancellation row (negative) is not bad


def test_buys_7d_boundary():
    # A on 01-05: in [D-6, D] up to D = 01-11, out on 01-12.
    t = ref.build(_tiny_world(), FUND, D(2025, 1, 11), D(2025, 1, 12))
    assert t.agg["Buys_7d"].tolist() == [1, 0]
    assert t.agg["Buys_30d"].tolist() == [1, 1]


def test_labels_window_and_pre_first_target():
    # Target purchase on 01-12: label T7 is 1 for D in [01-05, 01-11], Pre 0 from 01-12.
    fr = _tiny_world([(12, "B", "007", D(2025, 1, 12), "Purchase", TGT, "1", "1000.00", None)])
    t = ref.build(fr, FUND, D(2025, 1, 4), D(2025, 1, 14))
    agg = {r["Score_Date"].day: r for r in ref.records(t.agg)}
    lab = {r["Score_Date"].day: r["label_T7"] for r in ref.records(t.labels)}
    assert lab == {4: 0, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1, 10: 1, 11: 1}   # 01-04 + 7 = 01-11
    assert [agg[d]["Pre_First_Target"] for d in (11, 12, 14)] == [1, 0, 0]
    assert {r["first_buy_date"] for r in ref.records(t.labels)} == {D(2025, 1, 12)}


def test_censoring_uses_data_horizon():
    # Horizon = last U file 01-20; D + 7 > 01-20 from D = 01-14 on: NULL, never 0.
    t = ref.build(_tiny_world(), FUND, D(2025, 1, 12), D(2025, 1, 15))
    lab = {r["Score_Date"].day: r["label_T7"] for r in ref.records(t.labels)}
    assert lab == {12: 0, 13: 0, 14: None, 15: None}


def test_duplicates_conflicts_and_repeats():
    fr = _tiny_world([
        (6, "C", "007", D(2025, 1, 6), "Sale", OTHER, "1", "10.00", None),
        (6, "C", "007", D(2025, 1, 6), "Sale", OTHER, "1", "10.00", None),    # duplicate_row
        (6, "K", "007", D(2025, 1, 6), "Sale", OTHER, "1", "10.00", None),
        (6, "K", "007", D(2025, 1, 6), "Sale", OTHER, "1", "11.00", None),    # conflict: both
        (7, "C", "007", D(2025, 1, 6), "Sale", OTHER, "1", "10.00", None),    # repeated
    ])
    t = ref.build(fr, FUND, D(2025, 1, 7), D(2025, 1, 7))
    dq = {(r["Datei_Datum"], r["Reason"]): r["Row_Count"] for r in ref.records(t.dq)}
    assert dq == {(D(2025, 1, 6), "duplicate_row"): 1, (D(2025, 1, 6), "conflicting_duplicate"): 2,
                  (D(2025, 1, 7), "repeated_transaction"): 1}
    assert ref.records(t.agg)[0]["Turnover_30d"] == 1010.0        # A 1000 + C 10


def test_diff_tables_reports_key_column_and_values():
    a = pd.DataFrame({"k": ["1", "2", "3"], "x": [1.0, None, 0.0], "n": [1, 2, 3]})
    assert ref.diff_tables(a, a.copy(), ["k"]) == []
    b = pd.DataFrame({"k": ["1", "2", "4"], "x": [1.0 + 1e-9, 0.0, None], "n": [1, 2, 3]})
    diffs = ref.diff_tables(a, b, ["k"])
    assert "missing row {'k': '3'}" in diffs[0]
    assert "unexpected row {'k': '4'}" in diffs[1]
    assert "{'k': '2'} x: expected None, got 0.0" in diffs       # NULL vs 0 is a difference
    assert not any("{'k': '1'}" in d for d in diffs)              # within tolerance
    assert ref.diff_tables(a, a.assign(x=[1.004, None, 0.0]), ["k"], {"x": 0.005}) == []
