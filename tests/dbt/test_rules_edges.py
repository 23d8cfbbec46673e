"""Edge cases of docs/rules.md, on a second small hand-built world (dbt and reference).

Two groups:
  * contract-clear edges (test_clear_*): what docs/rules.md say in so many words;
  * open points (test_open_*): cases the rules leave open; the expected values are the
    reference's documented decision (tests/dbt/reference.py docstring). A dbt failure there
    is a question for docs/rules.md, not necessarily a dbt bug.

World: regular U and B files every day 2025-06-02 .. 2025-06-30, standard depots with cash
1000.00. Score_Dates 2025-06-02 .. 2025-06-30; data horizon 2025-06-30.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.dbt.harness import DbtHarness, Result, require_dbt_models
from tests.dbt.world import OTHER, OTHER2, World

T1 = "LU000DEMO015"
START, END = date(2025, 6, 2), date(2025, 6, 30)


def edge_world() -> World:
    w = World(START, END)
    u = w.u
    # E1: a cancellation row's Transaction_Number is trimmed before matching.
    w.depot("E1")
    w.order(u("2025-06-03"), "E1-A", "E1", "2025-06-03", amount="1000.00")
    w.order(u("2025-06-05"), "  E1-A ", "E1", "2025-06-03", amount="1000.00", remark="Storno")
    # E2: a cancellation row naming another depot still cancels the number.
    w.depot("E2")
    w.order(u("2025-06-03"), "E2-A", "E2", "2025-06-03", amount="1000.00")
    w.order(u("2025-06-05"), "E2-A", "SOMEONE", "2025-06-03", amount="1000.00", remark="storno")
    # E3: a cancellation in the same file as the original: never active, 1 of 1 cancelled.
    w.depot("E3")
    w.order(u("2025-06-03"), "E3-A", "E3", "2025-06-03", amount="1000.00")
    w.order(u("2025-06-03"), "E3-A", "E3", "2025-06-03", amount="1000.00", remark="Storno")
    # E4: the cancellation is delivered before the original: never active.
    w.depot("E4")
    w.order(u("2025-06-04"), "E4-A", "E4", "2025-06-03", amount="1000.00", remark="Storno")
    w.order(u("2025-06-05"), "E4-A", "E4", "2025-06-03", amount="1000.00")
    # E5: a cancellation row in a superseded file cancels nothing.
    w.depot("E5")
    w.order(u("2025-06-03"), "E5-A", "E5", "2025-06-03", amount="1000.00")
    w.file(9501, "U", "2025-06-05", "2025-06-05 08:00")           # older than the regular 20:00
    w.order(9501, "E5-A", "E5", "2025-06-03", amount="1000.00", remark="Storno")
    # E6: the first target purchase is cancelled, a later one is not: first_buy_date = later.
    w.depot("E6")
    w.order(u("2025-06-10"), "E6-A", "E6", "2025-06-10", isin=T1, amount="2000.00")
    w.order(u("2025-06-11"), "E6-A", "E6", "2025-06-10", isin=T1, amount="2000.00",
            remark="Storno")
    w.order(u("2025-06-20"), "E6-B", "E6", "2025-06-20", isin=T1, amount="2000.00")
    # E7: orders and bookings are separate: a cancelled booking does not cancel an order
    # with the same number.
    w.depot("E7")
    w.order(u("2025-06-03"), "SAME-1", "E7", "2025-06-03", amount="1000.00")
    w.booking(u("2025-06-03"), "SAME-1", "E7", "2025-06-03", amount="500.00")
    w.booking(u("2025-06-05"), "SAME-1", "E7", "2025-06-03", amount="-500.00", remark="Storno")
    # E8: the absurd boundaries of balances are valid: 10,000,000,000.00 exactly.
    w.depot("E8", cash="10000000000.00", positions=[(OTHER, "1", "10000000000.00")])
    # E9: a cancellation row is not judged: NULL date, type, ISIN, units and amount.
    w.depot("E9")
    w.order(u("2025-06-03"), "E9-A", "E9", "2025-06-03", amount="1000.00")
    w.order(u("2025-06-05"), "E9-A", None, None, type=None, isin=None, units=None, amount=None,
            remark="Storno")
    # E10: a booking cancellation row without depot or date still cancels.
    w.depot("E10")
    w.booking(u("2025-06-03"), "E10-D", "E10", "2025-06-03", amount="700.00")
    w.booking(u("2025-06-05"), "E10-D", None, None, type=None, amount=None, remark="STORNO")

    # O1: rows of a file with an unknown type.
    w.depot("O1")
    w.file(9601, "X", "2025-06-10", "2025-06-10 21:00")
    w.order(9601, "O1-A", "O1", "2025-06-10", amount="1000.00")
    # O2: A, A, B in one file: one copy is a duplicate_row, the two distinct rows conflict.
    w.depot("O2")
    for amount in ("1000.00", "1000.00", "1200.00"):
        w.order(u("2025-06-12"), "O2-A", "O2", "2025-06-12", amount=amount)
    # O3: conflicting in the first file, one clean row in the next: the later row is the
    # transaction (the earliest surviving delivery).
    w.depot("O3")
    w.order(u("2025-06-12"), "O3-A", "O3", "2025-06-12", amount="1000.00")
    w.order(u("2025-06-12"), "O3-A", "O3", "2025-06-12", amount="1300.00")
    w.order(u("2025-06-13"), "O3-A", "O3", "2025-06-12", amount="1000.00")
    # O4: OrderType with surrounding blanks still matches 'Purchase'.
    w.depot("O4")
    w.order(u("2025-06-12"), "O4-A", "O4", "2025-06-12", type=" Purchase ", amount="1000.00")
    # O5: rows equal after normalisation (depot blanks, ISIN case) are duplicates.
    w.depot("O5")
    w.order(u("2025-06-14"), "O5-A", "O5", "2025-06-14", isin=OTHER2, amount="1000.00")
    w.order(u("2025-06-14"), "O5-A", " O5", "2025-06-14", isin=OTHER2.lower(), amount="1000.00")
    # O6: a file with NULL Import_Zeit is the oldest delivery of its day.
    w.depot("O6")
    w.file(9602, "U", "2025-06-16", None)
    w.order(9602, "O6-OLD", "O6", "2025-06-16", amount="5000.00")
    w.order(u("2025-06-16"), "O6-NEW", "O6", "2025-06-16", amount="1000.00")
    # O7: an order in a superseded B file: wrong_file_type (the row could never count).
    w.file(9603, "B", "2025-06-18", "2025-06-18 08:00")
    w.order(9603, "O7-A", "O7", "2025-06-18", amount="1000.00")
    # O8: rows equal but for the Remark's case and blanks are copies (rules §9: the Remark
    # is compared trimmed and lower-cased, as SQL Server's collation would compare it).
    w.depot("O8")
    w.order(u("2025-06-22"), "O8-A", "O8", "2025-06-22", amount="1000.00", remark="Online")
    w.order(u("2025-06-22"), "O8-A", "O8", "2025-06-22", amount="1000.00", remark=" ONLINE  ")
    # O9: a blank Remark is no remark (NULL): a copy of the row without one.
    w.depot("O9")
    w.booking(u("2025-06-22"), "O9-D", "O9", "2025-06-22", amount="300.00", remark="   ")
    w.booking(u("2025-06-22"), "O9-D", "O9", "2025-06-22", amount="300.00", remark=None)
    # O10: O2 in a B file (rules §4 within one file): cd_Saldo A, A, B of one depot and
    # cd_Bestand X, X, Y, Z of one (depot, ISIN); the depot's regular rows of that day left out.
    w.depot("O10")
    w.holdings_on("O10", "2025-06-16", absent=True)
    b16 = w.b("2025-06-16")
    for cash in ("1000.00", "1000.00", "1200.00"):
        w.saldo(b16, "O10", cash)
    for units, mv in (("1", "100.00"), ("1", "100.00"), ("2", "200.00"), ("3", "300.00")):
        w.position(b16, "O10", OTHER, units, mv)
    return w


@pytest.fixture(scope="module", params=["reference", "dbt"])
def res(request, tmp_path_factory) -> Result:
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(tmp_path_factory.mktemp(f"edges_{request.param}"), mp)
        h.write_source(edge_world().frames())
        if request.param == "reference":
            return Result(h.reference(START, END))
        require_dbt_models()
        h.dbt(START, END, command="build")   # models + data tests + unit tests
        return Result(h.read())


def agg(res: Result, day: str, depot: str) -> dict:
    row = res.agg(day, depot)
    assert row is not None, f"no aggregate row for ({day}, {depot})"
    return row


# ------------------------------------------------------------------- contract-clear

def test_clear_cancellation_number_is_trimmed(res):
    assert agg(res, "2025-06-04", "E1")["Buys_7d"] == 1
    assert agg(res, "2025-06-05", "E1")["Buys_7d"] == 0


def test_clear_cancellation_by_number_whatever_the_depot(res):
    assert agg(res, "2025-06-04", "E2")["Buys_7d"] == 1
    assert agg(res, "2025-06-05", "E2")["Buys_7d"] == 0
    assert res.agg_dates("SOMEONE") == []


def test_clear_cancellation_in_the_same_file(res):
    # Known and cancelled from 06-03: never a buy; 1 of 1 numbers cancelled.
    row = agg(res, "2025-06-03", "E3")
    assert (row["Buys_7d"], row["Turnover_30d"], row["CancelRate_30d"]) == (0, 0.0, 1.0)


def test_clear_cancellation_delivered_before_original(res):
    # cancelled_from 06-04 <= known_from 06-05: never active.
    for day in ("2025-06-04", "2025-06-05", "2025-06-06"):
        assert agg(res, day, "E4")["Buys_7d"] == 0, day
    assert agg(res, "2025-06-05", "E4")["CancelRate_30d"] == 1.0


def test_clear_cancellation_in_superseded_file_cancels_nothing(res):
    assert agg(res, "2025-06-06", "E5")["Buys_7d"] == 1
    assert res.dq("2025-06-05", "cd_Order", "superseded_file") == 1


def test_clear_first_buy_skips_cancelled_purchase(res):
    # E6-A (06-10) cancelled on 06-11; E6-B on 06-20 is the first buy.
    assert [agg(res, d, "E6")["Pre_First_Target"] for d in
            ("2025-06-09", "2025-06-10", "2025-06-11", "2025-06-19", "2025-06-20")] == \
        [1, 0, 1, 1, 0]
    lab = res.label("2025-06-13", "E6")          # window [06-14, 06-20]: E6-B on D+7
    assert (lab["first_buy_date"], lab["label_T7"]) == (date(2025, 6, 20), 1)
    assert res.label("2025-06-09", "E6")["label_T7"] == 0   # [06-10, 06-16]: E6-A is no buy


def test_clear_orders_and_bookings_cancel_separately(res):
    row = agg(res, "2025-06-05", "E7")
    assert (row["Buys_7d"], row["Deposit_30d_eff"]) == (1, 0.0)
    assert agg(res, "2025-06-04", "E7")["Deposit_30d_eff"] == 500.0


def test_clear_cancellation_rows_are_not_judged(res):
    # E9/E10: cancellation rows full of NULLs cancel (by number) and are no bad rows.
    assert agg(res, "2025-06-04", "E9")["Buys_7d"] == 1
    assert agg(res, "2025-06-05", "E9")["Buys_7d"] == 0
    assert agg(res, "2025-06-04", "E10")["Deposit_30d_eff"] == 700.0
    assert agg(res, "2025-06-05", "E10")["Deposit_30d_eff"] == 0.0
    assert not [k for k in res.dq_cells() if k[0] == date(2025, 6, 5) and k[2] != "superseded_file"]


def test_clear_balance_boundaries_are_valid(res):
    row = agg(res, "2025-06-10", "E8")
    assert (row["Cash"], row["Portfolio_Value"], row["Pos_Count"]) == \
        (10_000_000_000.0, 10_000_000_000.0, 1)
    assert row["Cash_Ratio"] == pytest.approx(0.5)


# ----------------------------------------------------------------------- open points

def test_open_rows_of_unknown_type_file(res):
    # Left out for sure (the file never counts); counted as bad_file under cd_Order.
    assert agg(res, "2025-06-10", "O1")["Buys_7d"] == 0
    assert res.dq("2025-06-10", "cd_Datei", "bad_file") == 1
    assert res.dq("2025-06-10", "cd_Order", "bad_file") == 1


def test_open_duplicate_and_conflict_in_one_key(res):
    assert agg(res, "2025-06-12", "O2")["Buys_7d"] == 0
    assert (res.dq("2025-06-12", "cd_Order", "duplicate_row"),
            res.dq("2025-06-12", "cd_Order", "conflicting_duplicate")) == (1, 2 + 2)  # O2 + O3


def test_open_holdings_copies_and_conflicts_in_one_key(res):
    # O10, counted by hand: A, A, B -> one further copy (duplicate_row 1) and two contents,
    # each a conflicting_duplicate (2); X, X, Y, Z -> duplicate_row 1 and three contents (3).
    # Nothing else of the world is left out on 06-16.
    day = "2025-06-16"
    assert (res.dq(day, "cd_Saldo", "duplicate_row"),
            res.dq(day, "cd_Saldo", "conflicting_duplicate")) == (1, 2)
    assert (res.dq(day, "cd_Bestand", "duplicate_row"),
            res.dq(day, "cd_Bestand", "conflicting_duplicate")) == (1, 3)
    # no valid cd_Saldo row on that day: not in the universe; the day after, as every day
    assert res.agg(day, "O10") is None
    assert agg(res, "2025-06-17", "O10")["Cash"] == 1000


def test_open_conflict_then_clean_redelivery(res):
    # O3-A conflicting on 06-12 (both out); the 06-13 row is the first surviving delivery.
    assert agg(res, "2025-06-13", "O3")["Buys_7d"] == 1
    assert res.dq("2025-06-13", "cd_Order", "repeated_transaction") == 0


def test_open_order_type_is_trimmed(res):
    assert agg(res, "2025-06-12", "O4")["Buys_7d"] == 1


def test_open_duplicates_compare_normalised_values(res):
    assert agg(res, "2025-06-14", "O5")["Buys_7d"] == 1
    assert res.dq("2025-06-14", "cd_Order", "duplicate_row") == 1


def test_open_null_import_time_is_oldest(res):
    assert agg(res, "2025-06-16", "O6")["Turnover_30d"] == 1000.0
    assert res.dq("2025-06-16", "cd_Order", "superseded_file") == 1


def test_open_wrong_file_type_before_superseded(res):
    # Counted once. The reference first said superseded_file; dbt says wrong_file_type;
    # the rules are silent, so the reference follows dbt (report: docs/rules.md to decide).
    assert res.dq("2025-06-18", "cd_Order", "wrong_file_type") == 1
    assert res.dq("2025-06-18", "cd_Order", "superseded_file") == 0


def test_open_remark_is_compared_trimmed_and_case_folded(res):
    """One kept, one duplicate_row; compared as delivered they would conflict (both out)."""
    assert agg(res, "2025-06-22", "O8")["Buys_7d"] == 1
    assert res.dq("2025-06-22", "cd_Order", "duplicate_row") == 1
    assert res.dq("2025-06-22", "cd_Order", "conflicting_duplicate") == 0
    assert agg(res, "2025-06-22", "O9")["Deposit_30d_eff"] == 300.0
    assert res.dq("2025-06-22", "cd_Buchung", "duplicate_row") == 1
