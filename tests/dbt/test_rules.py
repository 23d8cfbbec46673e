"""One test per rule of docs/rules.md, on a hand-built world with hand-computed values.

The whole world (below) is built once per module and computed twice: by dbt (the models in
dbt_project/) and by tests/dbt/reference.py. Every test runs against both, so a failure
says which side breaks the rule. Depots are named after their scenario; each scenario
uses its own depot so the scenarios do not disturb each other.

World: regular U and B files every day 2025-01-02 .. 2025-04-30 (Import_Zeit 20:00), no
B file on 2025-03-15/16; every standard depot has cash 1000.00 and no positions in every
B file. Score_Dates 2025-01-01 .. 2025-04-30. Data horizon = 2025-04-30.
Fund (config/fund.yml): targets LU000DEMO015, LU000DEMO023; min ticket 1000; T = 7, 14, 30.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.dbt import reference
from tests.dbt.harness import DbtHarness, Result, engine_result, require_dbt_models
from tests.dbt.world import OTHER, OTHER2, OTHER3, World

T1, T2 = "LU000DEMO015", "LU000DEMO023"
START, END = date(2025, 1, 1), date(2025, 4, 30)
F = "2025-03-20"          # the day of the bad-row files


def rule_world() -> World:
    w = World(date(2025, 1, 2), date(2025, 4, 30), b_gaps={date(2025, 3, 15), date(2025, 3, 16)})
    u, b = w.u, w.b

    # --- superseded files (SUP1)
    w.depot("SUP1")
    w.file(9001, "U", "2025-02-03", "2025-02-03 18:00")              # older delivery of 02-03
    w.order(9001, "SUP-OLD", "SUP1", "2025-02-03", amount="5000.00")
    w.order(u("2025-02-03"), "SUP-NEW", "SUP1", "2025-02-03", amount="2000.00")
    w.file(9002, "U", "2025-02-05", "2025-02-05 21:00")              # tie on Import_Zeit:
    w.file(9003, "U", "2025-02-05", "2025-02-05 21:00")              # highest Datei_ID wins
    w.order(9002, "TIE-LOW", "SUP1", "2025-02-05", amount="3000.00")
    w.order(9003, "TIE-HIGH", "SUP1", "2025-02-05", amount="1500.00")
    w.file(9004, "B", "2025-02-04", "2025-02-04 18:00")              # older B of 02-04
    w.saldo(9004, "SUP1", "777.77")

    # --- cancellations
    w.depot("CAN1")   # cancelled in a later file, cancellation row carries the negated amount
    w.order(u("2025-02-10"), "CAN1-A", "CAN1", "2025-02-10", amount="2000.00")
    w.order(u("2025-02-14"), "CAN1-A", "CAN1", "2025-02-10", amount="-2000.00", remark="Storno")
    w.depot("CAN2")   # target purchase, cancelled 10 days later ("STORNO Kauf")
    w.order(u("2025-02-10"), "CAN2-A", "CAN2", "2025-02-10", isin=T1, amount="3000.00")
    w.order(u("2025-02-20"), "CAN2-A", "CAN2", "2025-02-10", isin=T1, amount="3000.00",
            remark="STORNO Kauf")
    w.depot("CAN3")   # "storniert"
    w.order(u("2025-02-10"), "CAN3-A", "CAN3", "2025-02-10", amount="1500.00")
    w.order(u("2025-02-11"), "CAN3-A", "CAN3", "2025-02-10", amount="1500.00",
            remark="Auftrag storniert")
    w.depot("CAN4")   # remarks that are not cancellations
    w.order(u("2025-02-10"), "CAN4-A", "CAN4", "2025-02-10", amount="1500.00",
            remark="Kauf per Telefon")
    w.order(u("2025-02-12"), "CAN4-A", "CAN4", "2025-02-10", amount="1500.00", remark="Korrektur")
    w.depot("CAN5")   # a deposit cancelled by a booking with the negated amount
    w.booking(u("2025-03-03"), "CAN5-D", "CAN5", "2025-03-03", amount="5000.00")
    w.booking(u("2025-03-05"), "CAN5-D", "CAN5", "2025-03-03", amount="-5000.00",
              remark="Storno Einzahlung")

    # --- minimum ticket and target purchases
    for depot, isin, amount in [("TIX1", OTHER, "999.99"), ("TIX2", OTHER, "1000.00"),
                                ("TIX3", T1, "999.99"), ("TIX4", T1, "1000.00")]:
        w.depot(depot)
        w.order(u("2025-03-03"), f"{depot}-A", depot, "2025-03-03", isin=isin, amount=amount)
    w.depot("SPT1")
    w.order(u("2025-03-03"), "SPT1-A", "SPT1", "2025-03-03", type="SavingsPlan", isin=T1,
            amount="5000.00")
    w.order(u("2025-03-04"), "SPT1-B", "SPT1", "2025-03-04", type="TransferIn", isin=T2,
            amount="5000.00")
    w.depot("TGT2")
    w.order(u("2025-03-10"), "TGT2-A", "TGT2", "2025-03-10", isin=T2, amount="1000.00")

    # --- holdings and universe (no B file on 03-15 and 03-16)
    w.depot("HOL1")
    w.holdings_on("HOL1", "2025-03-14", cash="2500.00",
                  positions=[(OTHER, "10", "7500.00"), (OTHER2, "0", "0.00"),
                             (OTHER3, "5", "2500.00")])
    w.holdings_on("HOL1", "2025-03-17", cash="100.00", positions=[])
    w.depot("UNI1", first="2025-03-10", last="2025-03-20")
    w.position(b("2025-03-12"), "UNI2", OTHER, "1", "100.00")        # positions, no saldo
    w.depot("UNI3", last="2025-03-14")
    w.depot("CR1", cash="0.00")
    w.depot("CR2", cash="-500.00", positions=[(OTHER, "1", "200.00")])
    w.depot("CR3", cash="-100.00", positions=[(OTHER, "1", "500.00")])
    w.depot("QUIET")
    w.depot("000777")                                                  # leading zeros
    w.order(u("2025-03-03"), "LZ-1", " 000777 ", "2025-03-03", amount="1000.00")

    # --- labels
    w.depot("LAB1")
    w.order(u("2025-04-08"), "LAB1-A", "LAB1", "2025-04-08", isin=T1, amount="2000.00")
    w.depot("LAB2")
    w.depot("LAB3")
    w.order(u("2025-04-28"), "LAB3-A", "LAB3", "2025-04-28", isin=T2, amount="1000.00")
    w.depot("LAB4")   # delivered two days late
    w.order(u("2025-04-12"), "LAB4-A", "LAB4", "2025-04-10", isin=T1, amount="1000.00")
    w.depot("LAB5")   # first target buy 04-03, cancelled in the file of 04-06
    w.order(u("2025-04-03"), "LAB5-A", "LAB5", "2025-04-03", isin=T1, amount="1000.00")
    w.order(u("2025-04-06"), "LAB5-A", "LAB5", "2025-04-03", isin=T1, amount="1000.00",
            remark="Storno")

    # --- window boundaries
    w.depot("WIN1")
    w.order(u("2025-01-10"), "WIN1-A", "WIN1", "2025-01-10", amount="1234.56")
    w.depot("WIN2")
    w.order(u("2025-01-10"), "WIN2-S", "WIN2", "2025-01-10", type="Sale", amount="500.00")
    w.order(u("2025-01-12"), "WIN2-S", "WIN2", "2025-01-10", type="Sale", amount="500.00",
            remark="Storno")
    w.order(u("2025-01-20"), "WIN2-P", "WIN2", "2025-01-20", amount="2000.00")
    w.depot("WIN3")
    w.booking(u("2025-01-10"), "WIN3-D", "WIN3", "2025-01-10", amount="300.00")
    w.booking(u("2025-01-12"), "WIN3-W", "WIN3", "2025-01-12", type="Withdrawal",
              amount="-100.00")
    w.depot("WIN4")
    w.order(u("2025-01-10"), "WIN4-1", "WIN4", "2025-01-10", isin=OTHER, amount="1000.00")
    w.order(u("2025-02-20"), "WIN4-2", "WIN4", "2025-02-20", isin=OTHER, amount="1000.00")
    w.order(u("2025-03-01"), "WIN4-3", "WIN4", "2025-03-01", isin=OTHER2, amount="1000.00")
    w.depot("WIN5")
    w.order(u("2025-01-05"), "WIN5-1", "WIN5", "2025-01-05", amount="1000.00")
    w.order(u("2025-01-08"), "WIN5-1", "WIN5", "2025-01-05", amount="1000.00", remark="storno")
    w.order(u("2025-01-20"), "WIN5-2", "WIN5", "2025-01-20", amount="1000.00")
    w.depot("LBD1")
    w.order(u("2025-02-01"), "LBD1-A", "LBD1", "2025-02-01", amount="1500.00")
    w.order(u("2025-02-10"), "LBD1-B", "LBD1", "2025-02-10", amount="1500.00")
    w.order(u("2025-02-15"), "LBD1-B", "LBD1", "2025-02-10", amount="1500.00", remark="Storno")
    w.depot("DAY1")   # a change inside the daily-vs-backfill range 03-14..03-18
    w.order(u("2025-03-14"), "DAY1-A", "DAY1", "2025-03-14", isin=T1, amount="1500.00")
    w.order(u("2025-03-17"), "DAY1-A", "DAY1", "2025-03-14", isin=T1, amount="1500.00",
            remark="Storno")

    # --- bad rows, all on F = 2025-03-20 unless said otherwise
    uf, bf = u(F), b(F)
    w.depot("BAD1")
    o = lambda tn, **kw: w.order(uf, tn, kw.pop("depot", "BAD1"), kw.pop("date", F), **kw)  # noqa: E731
    o(None)                                            # null_key (5 in all)
    o("   ")
    o("B-NK3", depot=None)
    o("B-NK4", depot="  ", isin="bad")
    o(None, remark="Storno")                           # a cancellation without a number
    o("B-ND1", date=None)                              # null_date
    o("B-UT1", type="Gift")                            # unknown_type (3)
    o("B-UT2", type=None)
    o("B-UT3", type="Gift", amount="-5.00")
    o("B-BI1", isin="DE00012345")                      # bad_isin (3)
    o("B-BI2", isin="DE000123456X")
    o("B-BI3", isin=None, amount=None)
    o("B-NA1", amount=None)                            # null_amount (2)
    o("B-NA2", units=None)
    o("B-NEG1", amount="-5.00")                        # negative_amount
    o("B-ABS1", amount="10000000.01")                  # absurd_amount
    o("B-FUT1", date="2025-03-21")                     # future_date
    o("B-ST1", date="2024-03-18")                      # stale_date (F - 367 days)
    o("B-OK1", amount="10000000.00")                   # valid: the absurd boundary
    o("B-OK2", type="Sale", amount="100.00", date="2024-03-19")   # valid: F - 366 days
    o("B-OK3", type="PURCHASE", isin=" de0001234567 ", amount="1000.00")  # valid, normalised
    bk = lambda tn, **kw: w.booking(uf, tn, kw.pop("depot", "BAD1"), kw.pop("date", F), **kw)  # noqa: E731
    bk(None)                                           # null_key (2)
    bk("BB-NK2", depot="  ")
    bk("BB-ND1", date=None)                            # null_date
    bk("BB-UT1", type="Bonus")                         # unknown_type
    bk("BB-NA1", amount=None)                          # null_amount
    bk("BB-ABS1", type="Withdrawal", amount="-10000000.01")   # absurd_amount
    bk("BB-FUT1", date="2025-03-21")                   # future_date
    bk("BB-ST1", date="2024-03-18")                    # stale_date
    bk("BB-OK1", amount="10000000.00")                 # valid boundary
    bk("BB-OK2", type="deposit", amount="50.00")       # valid, normalised type
    w.saldo(bf, None, "1.00")                          # saldo null_key (2)
    w.saldo(bf, "", "1.00")
    for depot in ("BAD3", "BAD4", "BAD5", "BAD6"):
        w.depot(depot)
        w.holdings_on(depot, F, absent=True)
    w.saldo(bf, "BAD3", None)                          # null_amount
    w.saldo(bf, "BAD4", "10000000000.01")              # absurd_amount
    w.saldo(bf, "BAD5", "1000.00")                     # duplicate_row (1)
    w.saldo(bf, "BAD5", "1000.00")
    w.saldo(bf, "BAD6", "1000.00")                     # conflicting_duplicate (2)
    w.saldo(bf, "BAD6", "2000.00")
    w.position(bf, "BAD5", None, "1", "1.00")          # null_key (2)
    w.position(bf, None, OTHER, "1", "1.00")
    w.position(bf, "BAD5", "ABC", "1", "1.00")         # bad_isin
    w.position(bf, "BAD5", "FR0000120271", None, "1.00")   # null_amount (2)
    w.position(bf, "BAD5", "FR0000131104", "1", None)
    w.position(bf, "BAD5", "NL0000235190", "-1", "1.00")   # negative_amount
    w.position(bf, "BAD5", "GB0002374006", "1", "10000000000.01")  # absurd_amount
    w.position(bf, "BAD5", OTHER, "2", "200.00")       # duplicate_row (1)
    w.position(bf, "BAD5", OTHER, "2", "200.00")
    w.position(bf, "BAD5", OTHER2, "1", "100.00")      # conflicting_duplicate (2)
    w.position(bf, "BAD5", OTHER2, "1", "150.00")
    w.position(bf, "BAD5", OTHER3, "0", "50.00")       # valid, Units 0
    w.depot("BAD2")   # duplicates on 03-21, repeats on 03-22
    for _ in range(3):
        w.order(u("2025-03-21"), "DUP-1", "BAD2", "2025-03-21", amount="2000.00")
    w.order(u("2025-03-21"), "CONF-1", "BAD2", "2025-03-21", amount="3000.00")
    w.order(u("2025-03-21"), "CONF-1", "BAD2", "2025-03-21", amount="3100.00")
    w.booking(u("2025-03-21"), "BDUP-1", "BAD2", "2025-03-21", amount="100.00")
    w.booking(u("2025-03-21"), "BDUP-1", "BAD2", "2025-03-21", amount="100.00")
    w.booking(u("2025-03-21"), "BCONF-1", "BAD2", "2025-03-21", amount="100.00")
    w.booking(u("2025-03-21"), "BCONF-1", "BAD2", "2025-03-21", amount="200.00")
    w.order(u("2025-03-22"), "DUP-1", "BAD2", "2025-03-21", amount="2000.00")
    w.booking(u("2025-03-22"), "BDUP-1", "BAD2", "2025-03-21", amount="100.00")
    w.order(99999, "UF-1", "BAD1", F)                  # unknown_file
    w.saldo(99998, "UF2", "1.00")
    w.order(bf, "WFT-1", "BAD1", F)                    # wrong_file_type
    w.saldo(uf, "WFT2", "1.00")
    w.file(9100, "X", F, f"{F} 21:00")                 # bad_file: unknown type
    w.file(9101, "U", None, "2025-03-25 23:00")        # bad_file: no date
    w.file(None, "U", "2025-03-25", "2025-03-25 23:00")   # bad_file: no id (must not win 03-25)
    w.depot("BAD7")
    w.order(u("2025-03-25"), "B7-1", "BAD7", "2025-03-25", amount="1000.00")
    w.file(9103, " u", "2025-03-26", "2025-03-26 23:00")  # type ' u' is U: supersedes 03-26
    w.order(9103, "B7-2", "BAD7", "2025-03-26", amount="1100.00")
    return w


# The complete FA_DATA_QUALITY of the world, counted by hand from rule_world().
EXPECTED_DQ = {
    ("2025-02-03", "cd_Order", "superseded_file"): 1,     # SUP-OLD
    ("2025-02-05", "cd_Order", "superseded_file"): 1,     # TIE-LOW (regular U of 02-05 is empty)
    ("2025-02-04", "cd_Saldo", "superseded_file"): 1,     # SUP1 777.77
    ("2025-02-12", "cd_Order", "repeated_transaction"): 1,   # CAN4-A "Korrektur"
    (F, "cd_Order", "null_key"): 5,
    (F, "cd_Order", "null_date"): 1,
    (F, "cd_Order", "unknown_type"): 3,
    (F, "cd_Order", "bad_isin"): 3,
    (F, "cd_Order", "null_amount"): 2,
    (F, "cd_Order", "negative_amount"): 1,
    (F, "cd_Order", "absurd_amount"): 1,
    (F, "cd_Order", "future_date"): 1,
    (F, "cd_Order", "stale_date"): 1,
    (F, "cd_Order", "wrong_file_type"): 1,
    (F, "cd_Buchung", "null_key"): 2,
    (F, "cd_Buchung", "null_date"): 1,
    (F, "cd_Buchung", "unknown_type"): 1,
    (F, "cd_Buchung", "null_amount"): 1,
    (F, "cd_Buchung", "absurd_amount"): 1,
    (F, "cd_Buchung", "future_date"): 1,
    (F, "cd_Buchung", "stale_date"): 1,
    (F, "cd_Saldo", "null_key"): 2,
    (F, "cd_Saldo", "null_amount"): 1,
    (F, "cd_Saldo", "absurd_amount"): 1,
    (F, "cd_Saldo", "duplicate_row"): 1,
    (F, "cd_Saldo", "conflicting_duplicate"): 2,
    (F, "cd_Saldo", "wrong_file_type"): 1,
    (F, "cd_Bestand", "null_key"): 2,
    (F, "cd_Bestand", "bad_isin"): 1,
    (F, "cd_Bestand", "null_amount"): 2,
    (F, "cd_Bestand", "negative_amount"): 1,
    (F, "cd_Bestand", "absurd_amount"): 1,
    (F, "cd_Bestand", "duplicate_row"): 1,
    (F, "cd_Bestand", "conflicting_duplicate"): 2,
    (F, "cd_Datei", "bad_file"): 1,                     # type X
    ("2025-03-21", "cd_Order", "duplicate_row"): 2,     # DUP-1 x3: two further copies
    ("2025-03-21", "cd_Order", "conflicting_duplicate"): 2,   # CONF-1 both
    ("2025-03-21", "cd_Buchung", "duplicate_row"): 1,
    ("2025-03-21", "cd_Buchung", "conflicting_duplicate"): 2,
    ("2025-03-22", "cd_Order", "repeated_transaction"): 1,
    ("2025-03-22", "cd_Buchung", "repeated_transaction"): 1,
    ("2025-03-25", "cd_Datei", "bad_file"): 1,          # NULL Datei_ID
    (None, "cd_Datei", "bad_file"): 1,                  # NULL Datei_Datum
    (None, "cd_Order", "unknown_file"): 1,
    (None, "cd_Saldo", "unknown_file"): 1,
}


@pytest.fixture(scope="module", params=["reference", "dbt"])
def res(request, tmp_path_factory) -> Result:
    """The rule world's output tables, from dbt or from the reference implementation."""
    return engine_result(request.param, tmp_path_factory.mktemp(f"rules_{request.param}"),
                         rule_world().frames(), START, END)


def agg(res: Result, day: str, depot: str) -> dict:
    row = res.agg(day, depot)
    assert row is not None, f"no aggregate row for ({day}, {depot})"
    return row


def label(res: Result, day: str, depot: str) -> dict:
    row = res.label(day, depot)
    assert row is not None, f"no label row for ({day}, {depot})"
    return row


def pick(row: dict, *cols: str) -> dict:
    return {c: row[c] for c in cols}


# ---------------------------------------------------------------------------- schema

def test_output_column_types(res):
    # The brief's schemas (INT = INTEGER, money DECIMAL(18,2), ratios DOUBLE); extra
    # aggregate columns are allowed after these.
    if res.column_types is None:
        pytest.skip("types are a property of the dbt tables")
    t = res.column_types
    agg_types = [t["CD_FA_AGG_BUY_DEMO"][c] for c in reference.AGG_COLUMNS]
    assert agg_types == ["DATE", "VARCHAR", "INTEGER", "INTEGER", "INTEGER",
                         agg_types[5], "DECIMAL(18,2)", "DECIMAL(18,2)", "DOUBLE",
                         "DECIMAL(18,2)", "DECIMAL(18,2)", "INTEGER", "INTEGER", "DOUBLE",
                         "INTEGER"]
    assert agg_types[5] == "DOUBLE" or agg_types[5].startswith("DECIMAL")   # Avg_Ticket_90d
    assert t["CD_FA_LABELS_DEMO"] == {"Score_Date": "DATE", "Depot_Number": "VARCHAR",
                                      "first_buy_date": "DATE", "label_T7": "INTEGER",
                                      "label_T14": "INTEGER", "label_T30": "INTEGER"}
    dq = t["FA_DATA_QUALITY"]
    assert (dq["Datei_Datum"], dq["Source_Table"], dq["Reason"]) == ("DATE", "VARCHAR", "VARCHAR")
    assert dq["Row_Count"] in ("INTEGER", "BIGINT")


# ------------------------------------------------------------------------------ files

def test_superseded_file_ignored_latest_import_wins(res):
    # 02-03: SUP-OLD (5000, imported 18:00) is superseded by the 20:00 file with SUP-NEW 2000.
    assert pick(agg(res, "2025-02-03", "SUP1"), "Buys_7d", "Avg_Ticket_90d", "Turnover_30d") == \
        {"Buys_7d": 1, "Avg_Ticket_90d": 2000.0, "Turnover_30d": 2000.0}


def test_superseded_file_tie_highest_datei_id_wins(res):
    # 02-05: files 9002 (TIE-LOW 3000) and 9003 (TIE-HIGH 1500), same Import_Zeit -> 9003.
    # Buys in [01-30, 02-05]: SUP-NEW 2000 (02-03) + TIE-HIGH 1500 = 2 buys, 3500, mean 1750.
    assert pick(agg(res, "2025-02-05", "SUP1"), "Buys_7d", "Avg_Ticket_90d", "Turnover_30d") == \
        {"Buys_7d": 2, "Avg_Ticket_90d": 1750.0, "Turnover_30d": 3500.0}


def test_superseded_b_file_ignored(res):
    # 02-04: B file 9004 (18:00, cash 777.77) is superseded by the regular 20:00 file (1000.00).
    assert agg(res, "2025-02-04", "SUP1")["Cash"] == 1000.0


def test_bad_files_never_count(res):
    # 03-25: a cd_Datei row with NULL Datei_ID and a later Import_Zeit must not supersede the
    # regular U file, so B7-1 still counts. 03-26: type ' u' is U (trimmed, upper-cased) and
    # supersedes the (empty) regular U file: B7-1 + B7-2 = 2 buys, 1000 + 1100 = 2100.
    assert agg(res, "2025-03-25", "BAD7")["Buys_7d"] == 1
    assert pick(agg(res, "2025-03-26", "BAD7"), "Buys_7d", "Turnover_30d") == \
        {"Buys_7d": 2, "Turnover_30d": 2100.0}


# ---------------------------------------------------------------------- cancellations

def test_cancellation_counts_only_from_its_delivery_day(res):
    # CAN1-A 2000 on 02-10, its "Storno" row arrives in the file of 02-14.
    before = agg(res, "2025-02-13", "CAN1")   # known, not yet cancelled; Last = 13 - 10 = 3
    assert pick(before, "Buys_7d", "Buys_30d", "Last_Buy_Days", "Avg_Ticket_90d",
                "Turnover_30d", "CancelRate_30d") == \
        {"Buys_7d": 1, "Buys_30d": 1, "Last_Buy_Days": 3, "Avg_Ticket_90d": 2000.0,
         "Turnover_30d": 2000.0, "CancelRate_30d": 0.0}
    after = agg(res, "2025-02-14", "CAN1")    # cancelled: gone; 1 of 1 number cancelled
    assert pick(after, "Buys_7d", "Buys_30d", "Last_Buy_Days", "Avg_Ticket_90d",
                "Turnover_30d", "CancelRate_30d") == \
        {"Buys_7d": 0, "Buys_30d": 0, "Last_Buy_Days": None, "Avg_Ticket_90d": None,
         "Turnover_30d": 0.0, "CancelRate_30d": 1.0}


def test_cancellation_row_with_negated_amount_is_not_a_bad_row(res):
    # The CAN1 cancellation row (amount -2000.00, file of 02-14) is recognised before any
    # row is judged: no negative_amount on 02-14 (nor any other class).
    assert not [k for k in res.dq_cells() if k[0] == date(2025, 2, 14)]


def test_cancelled_target_purchase_pre_first_target_by_knowledge_time(res):
    # CAN2-A target 3000 on 02-10, "STORNO Kauf" delivered 02-20.
    assert agg(res, "2025-02-09", "CAN2")["Pre_First_Target"] == 1
    assert agg(res, "2025-02-10", "CAN2")["Pre_First_Target"] == 0   # known, not cancelled
    assert agg(res, "2025-02-19", "CAN2")["Pre_First_Target"] == 0
    assert agg(res, "2025-02-15", "CAN2")["Buys_7d"] == 1            # still counted before 02-20
    assert agg(res, "2025-02-20", "CAN2")["Pre_First_Target"] == 1   # cancellation known
    assert res.label("2025-02-10", "CAN2") is None                   # Pre = 0: no label row


def test_cancelled_target_purchase_is_no_label(res):
    # Labels use everything known at run time: CAN2-A was cancelled, so no first buy at all.
    # 02-09 + 30 = 03-11 <= horizon 04-30, so every label is a known 0.
    assert label(res, "2025-02-09", "CAN2") == {
        "Score_Date": date(2025, 2, 9), "Depot_Number": "CAN2", "first_buy_date": None,
        "label_T7": 0, "label_T14": 0, "label_T30": 0}
    assert label(res, "2025-02-20", "CAN2")["label_T7"] == 0


@pytest.mark.parametrize("depot, day_known, day_cancelled", [
    ("CAN1", "2025-02-13", "2025-02-14"),    # "Storno"
    ("CAN2", "2025-02-19", "2025-02-20"),    # "STORNO Kauf"
    ("CAN3", "2025-02-10", "2025-02-11"),    # "Auftrag storniert"
])
def test_storno_spellings_all_cancel(res, depot, day_known, day_cancelled):
    assert agg(res, day_known, depot)["Buys_30d"] == 1
    assert agg(res, day_cancelled, depot)["Buys_30d"] == 0
    assert agg(res, day_cancelled, depot)["CancelRate_30d"] == 1.0


def test_non_cancellation_remark_does_not_cancel(res):
    # CAN4-A ("Kauf per Telefon") and a repeat of it ("Korrektur", 02-12, a
    # repeated_transaction): neither cancels; 1 buy, 0 of 1 numbers cancelled.
    for day in ("2025-02-11", "2025-02-12", "2025-02-16"):
        assert pick(agg(res, day, "CAN4"), "Buys_7d", "CancelRate_30d") == \
            {"Buys_7d": 1, "CancelRate_30d": 0.0}, day


def test_booking_cancellation(res):
    # CAN5-D deposit 5000 on 03-03, cancelled by a -5000 "Storno Einzahlung" row on 03-05.
    assert agg(res, "2025-03-04", "CAN5")["Deposit_30d_eff"] == 5000.0
    assert agg(res, "2025-03-05", "CAN5")["Deposit_30d_eff"] == 0.0


# ------------------------------------------------------------- effective and target buys

def test_minimum_ticket_exact(res):
    # 999.99 is no effective buy (but is turnover); 1000.00 is.
    assert pick(agg(res, "2025-03-03", "TIX1"), "Buys_7d", "Last_Buy_Days", "Avg_Ticket_90d",
                "Turnover_30d", "NewRefs_90d") == \
        {"Buys_7d": 0, "Last_Buy_Days": None, "Avg_Ticket_90d": None,
         "Turnover_30d": 999.99, "NewRefs_90d": 0}
    assert pick(agg(res, "2025-03-03", "TIX2"), "Buys_7d", "Last_Buy_Days", "Avg_Ticket_90d",
                "NewRefs_90d") == \
        {"Buys_7d": 1, "Last_Buy_Days": 0, "Avg_Ticket_90d": 1000.0, "NewRefs_90d": 1}


def test_minimum_ticket_for_target_purchase(res):
    # TIX3: target ISIN at 999.99 -> no target purchase; TIX4: 1000.00 -> target purchase.
    assert agg(res, "2025-03-03", "TIX3")["Pre_First_Target"] == 1
    assert label(res, "2025-03-03", "TIX3")["first_buy_date"] is None
    assert agg(res, "2025-03-02", "TIX4")["Pre_First_Target"] == 1
    assert agg(res, "2025-03-03", "TIX4")["Pre_First_Target"] == 0
    assert label(res, "2025-03-02", "TIX4")["first_buy_date"] == date(2025, 3, 3)
    assert label(res, "2025-03-02", "TIX4")["label_T7"] == 1


def test_savingsplan_and_transferin_of_target_are_no_purchase(res):
    # SavingsPlan of T1 on 03-03, TransferIn of T2 on 03-04, 5000 each: no buy, no turnover
    # (neither Purchase nor Sale), but 2 known order numbers, none cancelled.
    assert pick(agg(res, "2025-03-05", "SPT1"), "Pre_First_Target", "Buys_7d", "Turnover_30d",
                "CancelRate_30d") == \
        {"Pre_First_Target": 1, "Buys_7d": 0, "Turnover_30d": 0.0, "CancelRate_30d": 0.0}
    lab = label(res, "2025-03-02", "SPT1")
    assert (lab["first_buy_date"], lab["label_T7"], lab["label_T30"]) == (None, 0, 0)


def test_second_target_isin_counts(res):
    assert agg(res, "2025-03-09", "TGT2")["Pre_First_Target"] == 1
    assert agg(res, "2025-03-10", "TGT2")["Pre_First_Target"] == 0
    lab = label(res, "2025-03-09", "TGT2")
    assert (lab["first_buy_date"], lab["label_T7"]) == (date(2025, 3, 10), 1)


# ------------------------------------------------------------------ holdings, universe

def test_holdings_carry_over_missing_b_file(res):
    # As-of file for 03-15 and 03-16 is the one of 03-14: cash 2500, PV 7500 + 0 + 2500 =
    # 10000, positions with Units > 0: 2, ratio 2500 / 12500 = 0.2.
    held = {"Cash": 2500.0, "Portfolio_Value": 10000.0, "Cash_Ratio": 0.2, "Pos_Count": 2}
    for day in ("2025-03-14", "2025-03-15", "2025-03-16"):
        assert pick(agg(res, day, "HOL1"), *held) == held, day
    assert pick(agg(res, "2025-03-17", "HOL1"), *held) == \
        {"Cash": 100.0, "Portfolio_Value": 0.0, "Cash_Ratio": 1.0, "Pos_Count": 0}


def test_universe_is_the_as_of_b_file(res):
    # UNI1 has saldo rows 03-10..03-20; on the gap days it is carried with the 03-14 file.
    assert res.agg_dates("UNI1") == [date(2025, 3, n) for n in range(10, 21)]
    # UNI3 ends on 03-14: still in the universe on 03-15/16 (as-of file 03-14), not on 03-17.
    assert res.agg_dates("UNI3")[-1] == date(2025, 3, 16)
    # UNI2 has positions but never a saldo row: never scored. UF2/WFT2 rows are left out.
    for depot in ("UNI2", "UF2", "WFT2"):
        assert res.agg_dates(depot) == []


def test_no_b_file_no_rows(res):
    # The first B file is 2025-01-02: Score_Date 2025-01-01 has no rows at all.
    assert not [k for k in res.agg_rows() if k[0] == date(2025, 1, 1)]
    assert len([k for k in res.agg_rows() if k[0] == date(2025, 1, 2)]) > 0


def test_cash_ratio_null_when_sum_not_positive(res):
    assert pick(agg(res, "2025-03-01", "CR1"), "Cash", "Portfolio_Value", "Cash_Ratio") == \
        {"Cash": 0.0, "Portfolio_Value": 0.0, "Cash_Ratio": None}          # 0 + 0 <= 0
    assert agg(res, "2025-03-01", "CR2")["Cash_Ratio"] is None             # -500 + 200 < 0
    assert agg(res, "2025-03-01", "CR3")["Cash_Ratio"] == pytest.approx(-0.25)  # -100 / 400


def test_quiet_depot_zeros_and_nulls(res):
    assert agg(res, "2025-04-30", "QUIET") == {
        "Score_Date": date(2025, 4, 30), "Depot_Number": "QUIET", "Buys_7d": 0, "Buys_30d": 0,
        "Last_Buy_Days": None, "Avg_Ticket_90d": None, "Cash": 1000.0, "Portfolio_Value": 0.0,
        "Cash_Ratio": 1.0, "Deposit_30d_eff": 0.0, "Turnover_30d": 0.0, "Pos_Count": 0,
        "NewRefs_90d": 0, "CancelRate_30d": None, "Pre_First_Target": 1,
        **{k: v for k, v in agg(res, "2025-04-30", "QUIET").items()
           if k not in reference.AGG_COLUMNS}}   # extra features are allowed


def test_leading_zero_depot_kept(res):
    # Saldo '000777', order depot ' 000777 ' (trimmed): one depot, zeros kept.
    assert agg(res, "2025-03-03", "000777")["Buys_7d"] == 1
    assert res.agg("2025-03-03", "777") is None
    assert all(isinstance(k[1], str) for k in res.agg_rows())


# ---------------------------------------------------------------------------- labels

def test_label_windows(res):
    # LAB1: first target buy on 04-08. Label T = 1 iff 04-08 in [D+1, D+T].
    assert pick(label(res, "2025-04-01", "LAB1"), "first_buy_date", "label_T7", "label_T14",
                "label_T30") == {"first_buy_date": date(2025, 4, 8), "label_T7": 1,
                                 "label_T14": 1, "label_T30": 1}
    assert label(res, "2025-04-07", "LAB1")["label_T7"] == 1        # buy on D+1
    assert label(res, "2025-04-01", "LAB1")["label_T7"] == 1        # buy on D+T (04-01 + 7)
    assert label(res, "2025-03-31", "LAB1")["label_T7"] == 0        # buy on D+T+1
    assert label(res, "2025-03-25", "LAB1")["label_T14"] == 1       # 03-25 + 14 = 04-08
    assert label(res, "2025-03-24", "LAB1")["label_T14"] == 0       # 03-24 + 15 = 04-08
    assert label(res, "2025-03-09", "LAB1")["label_T30"] == 1       # 03-09 + 30 = 04-08
    assert label(res, "2025-03-08", "LAB1")["label_T30"] == 0       # 03-08 + 31 = 04-08


def test_buy_on_score_date_is_no_label(res):
    # A buy on D itself: Pre_First_Target(D) = 0 -> no label row, and 0 from then on.
    assert agg(res, "2025-04-08", "LAB1")["Pre_First_Target"] == 0
    assert res.label("2025-04-08", "LAB1") is None
    assert agg(res, "2025-04-30", "LAB1")["Pre_First_Target"] == 0
    assert agg(res, "2025-04-07", "LAB1")["Pre_First_Target"] == 1


def test_censored_label_is_null_never_zero(res):
    # LAB2 never buys; horizon 04-30. T is known (0) iff D + T <= 04-30.
    assert pick(label(res, "2025-04-20", "LAB2"), "label_T7", "label_T14", "label_T30") == \
        {"label_T7": 0, "label_T14": None, "label_T30": None}       # 04-27 ok, 05-04, 05-20
    assert label(res, "2025-04-23", "LAB2")["label_T7"] == 0        # 04-30 <= 04-30
    assert label(res, "2025-04-24", "LAB2")["label_T7"] is None     # 05-01 > 04-30
    assert label(res, "2025-03-31", "LAB2")["label_T30"] == 0       # 04-30
    assert label(res, "2025-04-01", "LAB2")["label_T30"] is None    # 05-01


def test_observed_buy_beyond_horizon_window_is_1(res):
    # LAB3 buys on 04-28. D = 04-20: T7 window [04-21, 04-27] known -> 0; T14 window
    # [04-21, 05-04] contains 04-28 -> 1 although 05-04 > horizon; T30 likewise 1.
    assert pick(label(res, "2025-04-20", "LAB3"), "label_T7", "label_T14", "label_T30") == \
        {"label_T7": 0, "label_T14": 1, "label_T30": 1}
    assert label(res, "2025-04-24", "LAB3")["label_T7"] == 1


def test_late_delivered_buy_knowledge_time(res):
    # LAB4-A: Order_Date 04-10 delivered in the file of 04-12.
    assert agg(res, "2025-04-10", "LAB4")["Pre_First_Target"] == 1
    assert agg(res, "2025-04-11", "LAB4")["Pre_First_Target"] == 1
    assert agg(res, "2025-04-12", "LAB4")["Pre_First_Target"] == 0
    assert agg(res, "2025-04-11", "LAB4")["Buys_7d"] == 0
    assert pick(agg(res, "2025-04-12", "LAB4"), "Buys_7d", "Last_Buy_Days") == \
        {"Buys_7d": 1, "Last_Buy_Days": 2}
    # first_buy_date 04-10 is not in [D+1, D+7] for D = 04-10 / 04-11: known 0.
    assert label(res, "2025-04-10", "LAB4")["label_T7"] == 0
    assert label(res, "2025-04-11", "LAB4")["label_T7"] == 0
    assert label(res, "2025-04-09", "LAB4")["label_T7"] == 1


def test_labels_exactly_for_pre_first_target_rows(res):
    agg_keys = {k for k, r in res.agg_rows().items() if r["Pre_First_Target"] == 1}
    assert set(res.label_rows()) == agg_keys
    assert {r["Pre_First_Target"] for r in res.agg_rows().values()} == {0, 1}


# ------------------------------------------------------------------- window boundaries

@pytest.mark.parametrize("depot, col, day_in, day_out, v_in, v_out", [
    # WIN1: one buy of 1234.56 on 01-10.
    ("WIN1", "Buys_7d", "2025-01-16", "2025-01-17", 1, 0),              # 01-10 + 6 / + 7
    ("WIN1", "Buys_30d", "2025-02-08", "2025-02-09", 1, 0),             # + 29 / + 30
    ("WIN1", "Turnover_30d", "2025-02-08", "2025-02-09", 1234.56, 0.0),
    ("WIN1", "Avg_Ticket_90d", "2025-04-09", "2025-04-10", 1234.56, None),   # + 89 / + 90
    ("WIN1", "NewRefs_90d", "2025-04-09", "2025-04-10", 1, 0),
    # WIN3: deposit 300 on 01-10 (a withdrawal on 01-12 is no deposit).
    ("WIN3", "Deposit_30d_eff", "2025-02-08", "2025-02-09", 300.0, 0.0),
    # WIN2: Sale 01-10 cancelled 01-12 (1 of 1); buy 01-20 -> 1 of 2 until 02-08, 0 of 1
    # from 02-09 (the sale is out), NULL from 02-19 (nothing in [01-21, 02-19]).
    ("WIN2", "CancelRate_30d", "2025-02-08", "2025-02-09", 0.5, 0.0),
    ("WIN2", "CancelRate_30d", "2025-02-18", "2025-02-19", 0.0, None),
])
def test_window_boundaries(res, depot, col, day_in, day_out, v_in, v_out):
    assert agg(res, day_in, depot)[col] == v_in
    assert agg(res, day_out, depot)[col] == v_out


def test_cancel_rate_knowledge_time(res):
    # WIN2-S: known 01-10, cancellation known 01-12.
    assert agg(res, "2025-01-11", "WIN2")["CancelRate_30d"] == 0.0
    assert agg(res, "2025-01-12", "WIN2")["CancelRate_30d"] == 1.0
    assert agg(res, "2025-01-20", "WIN2")["CancelRate_30d"] == 0.5
    assert agg(res, "2025-01-11", "WIN2")["Turnover_30d"] == 500.0
    assert agg(res, "2025-01-12", "WIN2")["Turnover_30d"] == 0.0


def test_last_buy_days_unbounded(res):
    assert agg(res, "2025-04-10", "WIN1")["Last_Buy_Days"] == 90     # 04-10 - 01-10


def test_newrefs_counts_first_buy_of_isin_only(res):
    # WIN4: OTHER first bought 01-10 (again 02-20), OTHER2 on 03-01.
    assert agg(res, "2025-04-09", "WIN4")["NewRefs_90d"] == 2
    assert agg(res, "2025-04-10", "WIN4")["NewRefs_90d"] == 1        # OTHER's first is out
    assert agg(res, "2025-04-10", "WIN4")["Avg_Ticket_90d"] == 1000.0


def test_newrefs_cancelled_first_buy(res):
    # WIN5: OTHER bought 01-05 (cancelled in file 01-08), again 01-20.
    assert agg(res, "2025-01-06", "WIN5")["NewRefs_90d"] == 1
    assert agg(res, "2025-01-08", "WIN5")["NewRefs_90d"] == 0
    assert agg(res, "2025-01-20", "WIN5")["NewRefs_90d"] == 1
    assert agg(res, "2025-04-19", "WIN5")["NewRefs_90d"] == 1        # 01-20 + 89
    assert agg(res, "2025-04-20", "WIN5")["NewRefs_90d"] == 0


def test_last_buy_days_cancelled_latest_restores_earlier(res):
    # LBD1: buys 02-01 and 02-10; the 02-10 buy is cancelled in the file of 02-15.
    assert agg(res, "2025-02-12", "LBD1")["Last_Buy_Days"] == 2
    assert agg(res, "2025-02-14", "LBD1")["Last_Buy_Days"] == 4
    assert agg(res, "2025-02-15", "LBD1")["Last_Buy_Days"] == 14     # back to 02-01


# ---------------------------------------------------------------------------- bad rows

def test_data_quality_table_complete(res):
    expected = {(None if k[0] is None else date.fromisoformat(k[0]), k[1].lower(), k[2]): v
                for k, v in EXPECTED_DQ.items()}
    got = res.dq_cells()
    missing = {k: v for k, v in expected.items() if got.get(k) != v}
    extra = {k: v for k, v in got.items() if k not in expected}
    assert not missing and not extra, \
        f"expected but not got: {missing} (got {[(k, got.get(k)) for k in missing]}); extra: {extra}"


def test_bad_rows_are_left_out(res):
    # BAD1 valid orders on F: B-OK1 (10,000,000.00) and B-OK3 (' de0001234567 ', 'PURCHASE',
    # 1000.00); B-OK2 is a sale of 2024. WFT-1 (in a B file) and UF-1 (unknown file) are out.
    row = agg(res, F, "BAD1")
    assert pick(row, "Buys_7d", "Avg_Ticket_90d", "Turnover_30d", "NewRefs_90d",
                "CancelRate_30d", "Deposit_30d_eff") == {
        "Buys_7d": 2,
        "Avg_Ticket_90d": 5000500.0,          # (10,000,000.00 + 1,000.00) / 2
        "Turnover_30d": 10001000.0,
        "NewRefs_90d": 1,                      # both are DE0001234567
        "CancelRate_30d": 0.0,                 # 0 of 2 numbers with Order_Date in 30 days
        "Deposit_30d_eff": 10000050.0,         # BB-OK1 10,000,000.00 + BB-OK2 50.00
    }


def test_bad_saldo_and_positions_left_out(res):
    # BAD3 (Cash NULL), BAD4 (absurd cash), BAD6 (conflicting saldo) are not in F's universe.
    for depot in ("BAD3", "BAD4", "BAD6"):
        assert res.agg(F, depot) is None, depot
        assert res.agg("2025-03-19", depot) is not None
        assert res.agg("2025-03-21", depot) is not None
    # BAD5: duplicate saldo kept once; positions: OTHER 200 (duplicate kept once, Units 2),
    # OTHER3 50 (Units 0); OTHER2 conflicting, both out. PV 250, 1 position, 1000 / 1250.
    assert pick(agg(res, F, "BAD5"), "Cash", "Portfolio_Value", "Pos_Count", "Cash_Ratio") == \
        {"Cash": 1000.0, "Portfolio_Value": 250.0, "Pos_Count": 1, "Cash_Ratio": 0.8}


def test_duplicates_and_repeated_transactions(res):
    # BAD2 on 03-22: DUP-1 2000 kept once (copies and the 03-22 repeat left out), CONF-1
    # conflicting (both out); BDUP-1 100 once, BCONF-1 out.
    assert pick(agg(res, "2025-03-22", "BAD2"), "Buys_7d", "Avg_Ticket_90d", "Turnover_30d",
                "Deposit_30d_eff", "CancelRate_30d") == \
        {"Buys_7d": 1, "Avg_Ticket_90d": 2000.0, "Turnover_30d": 2000.0,
         "Deposit_30d_eff": 100.0, "CancelRate_30d": 0.0}


# -------------------------------------------------------------------- determinism

DAILY = [date(2025, 3, n) for n in range(15, 18)]      # 03-15 .. 03-17: the B gap, then a new B file


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """dbt on the rule world: day by day, a backfill, the same backfill again, the default.

    Six dbt calls (~5-10 s each on the shared machine): the tests using it are marked slow.
    """
    require_dbt_models()
    root = tmp_path_factory.mktemp("runs")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp)
        h.write_source(rule_world().frames())
        h.use_target(root / "daily.duckdb")
        for day in DAILY:
            h.dbt(day, day)
        out["daily"] = h.read()
        h.use_target(root / "backfill.duckdb")
        h.dbt(DAILY[0], DAILY[-1])
        out["backfill"] = h.read()
        h.dbt(DAILY[0], DAILY[-1])
        out["again"] = h.read()
        # the default run (no start/end: the data horizon) on a source whose latest U file
        # is typed ' u ' and that has later cd_Datei rows that must not count
        w = rule_world()
        w.file(9993, " u ", "2025-05-02", "2025-05-02 23:00")
        w.file(None, "U", "2025-05-06", "2025-05-06 23:00")    # no id
        w.file(9994, "U", None, "2025-05-07 23:00")            # no date
        w.file(9995, "X", "2025-05-07", "2025-05-07 23:00")    # unknown type
        w.file(9996, "B", "2025-05-08", "2025-05-08 23:00")    # a later B file
        # the as-of B file of 05-02: a copied and a conflicting saldo row (the universe
        # is SUP1 and DUPA; holdings_agree_with_file_quality compares both models)
        w.file(9997, "B", "2025-05-01", "2025-05-01 23:00")
        w.saldo(9997, "SUP1", "10.00")
        w.saldo(9997, "DUPA", "5.00")
        w.saldo(9997, "DUPA", "5.00")
        w.saldo(9997, "CONF", "1.00")
        w.saldo(9997, "CONF", "2.00")
        h.write_source(w.frames())
        h.use_target(root / "default.duckdb")
        # a build: the data tests too, among them holdings_agree_with_file_quality on the
        # B files of the rule world (copies, conflicting rows, bad rows)
        h.dbt(None, None, "build")
        out["default"] = h.read()
        out["horizons"] = _horizons(h)
        out["reference"] = h.reference(DAILY[0], DAILY[-1])
    return out


KEYS = ["Score_Date", "Depot_Number"]


def _assert_same(a, b, what):
    for name in ("agg", "labels"):
        diffs = reference.diff_tables(getattr(a, name), getattr(b, name), KEYS)
        assert not diffs, f"{what} ({name}):\n" + "\n".join(diffs)


@pytest.mark.slow
def test_rerun_same_range_identical(runs):
    _assert_same(runs["backfill"], runs["again"], "second run of the same range")
    diffs = reference.diff_tables(runs["backfill"].dq, runs["again"].dq,
                                  ["Datei_Datum", "Source_Table", "Reason"])
    assert not diffs, "\n".join(diffs)


@pytest.mark.slow
def test_daily_runs_equal_backfill(runs):
    _assert_same(runs["backfill"], runs["daily"], "day-by-day runs vs one backfill")
    assert sorted({r["Score_Date"] for r in reference.records(runs["daily"].agg)}) == DAILY


@pytest.mark.slow
def test_daily_range_matches_reference(runs):
    # DAY1's target buy (03-14) is cancelled on 03-17: Pre 0 on 03-15/16, 1 on 03-17.
    _assert_same(runs["reference"], runs["backfill"], "reference vs dbt backfill")
    r = Result(runs["daily"])
    assert [agg(r, f"2025-03-{n}", "DAY1")["Pre_First_Target"] for n in (15, 16, 17)] == [0, 0, 1]


def _horizons(h: DbtHarness) -> dict[str, date]:
    """The data horizon as each of its three computations sees the source: Python
    (ml.pipeline.data_horizon, for orchestrate.py's ranges), the model int_data_horizon
    (fa_labels' censoring) and the dbt macro data_horizon_literal (the default range, read
    from the Score_Dates the default run built); and the independent reference."""
    import duckdb

    from ml.pipeline import data_horizon

    con = duckdb.connect(str(h.target_db), read_only=True)
    try:
        model = con.sql("SELECT Data_Horizon FROM dbo.int_data_horizon").fetchall()[0][0]
        macro = con.sql(f"SELECT DISTINCT Score_Date FROM dbo.{h.settings.agg_table}").fetchall()
    finally:
        con.close()
    files = reference.classify_files(reference.read_source(h.source_db)["cd_Datei"])
    return {"python": data_horizon(h.settings), "model": model,
            "macro": macro[0][0] if len(macro) == 1 else macro,
            "reference": reference.data_horizon(files).date()}


@pytest.mark.slow
def test_default_score_date_is_data_horizon(runs):
    # the ' u ' file of 05-02 is the latest U file; the later rows are bad or not U
    rows = reference.records(runs["default"].agg)
    assert {r["Score_Date"] for r in rows} == {date(2025, 5, 2)}
    assert sorted(r["Depot_Number"] for r in rows) == ["DUPA", "SUP1"]


@pytest.mark.slow
def test_the_data_horizon_computations_agree(runs):
    """The data horizon is computed in three places (rules §1): they must agree."""
    assert runs["horizons"] == dict.fromkeys(("python", "model", "macro", "reference"),
                                             date(2025, 5, 2))
