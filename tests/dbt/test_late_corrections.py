"""Late corrections during daily operation (slow): the source grows by Import_Zeit.

Rule world plus two re-deliveries that arrive days after their business day:
  * B file of 04-03 re-delivered on 04-05 10:00 (id 9701): the same rows, LAB2's cash
    1000.00 -> 2000.00, plus a saldo row of LATE1 with Cash NULL (null_amount);
  * U file of 04-04 re-delivered on 04-07 10:00 (id 9702): LATE2-A 1000.00 -> 1500.00,
    plus LATE2-X with Amount NULL (null_amount).
dbt runs once per day 04-01..04-08, each time on the files loaded by that evening.

Expected after the last day (final source = the files loaded by 04-08 23:59):
  * FA_DATA_QUALITY equals the reference on the final source (it covers every file, and the
    superseded regular files move to superseded_file when their correction arrives);
  * labels equal the reference (every label that can change is refreshed);
  * aggregates equal the reference except what the daily runs could not know yet: the
    04-03 row of LAB2 (cash 1000.00 then) and the 04-04..04-06 rows of LATE2 (1000.00).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from tests.dbt import reference
from tests.dbt.harness import DbtHarness, Result, require_dbt_models
from tests.dbt.test_rules import rule_world
from tests.dbt.world import OTHER, known_at

pytestmark = pytest.mark.slow

FIRST, LAST = date(2025, 4, 1), date(2025, 4, 8)
KEYS = ["Score_Date", "Depot_Number"]


def late_world() -> dict[str, pd.DataFrame]:
    w = rule_world()
    w.depot("LATE2")
    w.order(w.u("2025-04-04"), "LATE2-A", "LATE2", "2025-04-04", isin=OTHER, amount="1000.00")
    fr = w.frames()
    b0403, u0404 = w.b("2025-04-03"), w.u("2025-04-04")
    sal = fr["cd_Saldo"][fr["cd_Saldo"]["Datei_ID"] == b0403].copy()
    sal["Datei_ID"] = 9701
    sal.loc[sal["Depot_Number"] == "LAB2", "Cash_EUR"] = "2000.00"
    sal = pd.concat([sal, pd.DataFrame([{"Datei_ID": 9701, "Depot_Number": "LATE1",
                                         "Cash_EUR": None}])], ignore_index=True)
    pos = fr["cd_Bestand"][fr["cd_Bestand"]["Datei_ID"] == b0403].copy()
    pos["Datei_ID"] = 9701
    orders = fr["cd_Order"][fr["cd_Order"]["Datei_ID"] == u0404].copy()
    assert list(orders["Transaction_Number"]) == ["LATE2-A"]    # nothing else on 04-04
    orders["Datei_ID"] = 9702
    orders["Amount_EUR"] = "1500.00"
    extra = orders.copy()
    extra["Transaction_Number"], extra["Amount_EUR"] = "LATE2-X", None
    files = pd.DataFrame([
        {"Datei_ID": 9701, "Datei_Typ": "B", "Datei_Datum": date(2025, 4, 3),
         "Import_Zeit": datetime(2025, 4, 5, 10), "Datei_Name": "B_0403_korr.csv"},
        {"Datei_ID": 9702, "Datei_Typ": "U", "Datei_Datum": date(2025, 4, 4),
         "Import_Zeit": datetime(2025, 4, 7, 10), "Datei_Name": "U_0404_korr.csv"}], dtype=object)
    fr["cd_Datei"] = pd.concat([fr["cd_Datei"], files], ignore_index=True)
    fr["cd_Saldo"] = pd.concat([fr["cd_Saldo"], sal], ignore_index=True)
    fr["cd_Bestand"] = pd.concat([fr["cd_Bestand"], pos], ignore_index=True)
    fr["cd_Order"] = pd.concat([fr["cd_Order"], orders, extra], ignore_index=True)
    fr["_superseded_saldo_rows"] = len(sal) - 1            # the regular B 04-03's rows
    fr["_superseded_bestand_rows"] = len(pos)
    return fr


@pytest.fixture(scope="module")
def late(tmp_path_factory):
    require_dbt_models()
    root = tmp_path_factory.mktemp("late")
    full = late_world()
    counts = {k: full.pop(k) for k in list(full) if k.startswith("_")}
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp)
        day = FIRST
        while day <= LAST:
            h.write_source(known_at(full, datetime(day.year, day.month, day.day, 23, 59)))
            h.dbt(day, day)
            day += timedelta(days=1)
        got = h.read()
        # The reference sees what the last daily run saw (both corrections included).
        exp = h.reference(FIRST, LAST)
    return {"got": got, "expected": exp, **counts}


def test_late_corrections_data_quality(late):
    r = Result(late["got"])
    assert r.dq("2025-04-03", "cd_Saldo", "null_amount") == 1                  # LATE1
    assert r.dq("2025-04-03", "cd_Saldo", "superseded_file") == late["_superseded_saldo_rows"]
    assert r.dq("2025-04-03", "cd_Bestand", "superseded_file") == late["_superseded_bestand_rows"]
    assert r.dq("2025-04-04", "cd_Order", "null_amount") == 1                  # LATE2-X
    assert r.dq("2025-04-04", "cd_Order", "superseded_file") == 1              # old LATE2-A
    exp, got = late["expected"].dq.copy(), late["got"].dq.copy()
    exp["Source_Table"] = exp["Source_Table"].str.lower()
    got["Source_Table"] = got["Source_Table"].astype(str).str.lower()
    diffs = reference.diff_tables(exp, got, ["Datei_Datum", "Source_Table", "Reason"])
    assert not diffs, "FA_DATA_QUALITY after daily runs vs reference on the final source:\n  " \
        + "\n  ".join(diffs)


def test_late_corrections_labels(late):
    diffs = reference.diff_tables(late["expected"].labels, late["got"].labels, KEYS)
    assert not diffs, "labels after daily runs vs reference:\n  " + "\n  ".join(diffs)


def test_late_corrections_aggregates_keep_what_was_known(late):
    diffs = reference.diff_tables(late["expected"].agg, late["got"].agg, KEYS, limit=50)
    expected_diffs = [
        # 04-03: the run of 04-03 saw LAB2's cash 1000.00; the correction says 2000.00
        # (Cash_Ratio stays 1.0: no positions).
        "{'Score_Date': datetime.date(2025, 4, 3), 'Depot_Number': 'LAB2'} Cash: "
        "expected 2000.0, got 1000.0",
    ]
    for col in ("Cash_Change_7d", "Cash_Change_30d"):   # rules §7b: from that same Cash
        expected_diffs.append("{'Score_Date': datetime.date(2025, 4, 3), 'Depot_Number': 'LAB2'} "
                              f"{col}: expected 1000.0, got 0.0")
    for n in (4, 5, 6):   # runs of 04-04..04-06 saw LATE2-A at 1000.00, not 1500.00
        for col in ("Avg_Ticket_90d", "Turnover_30d"):
            expected_diffs.append(
                f"{{'Score_Date': datetime.date(2025, 4, {n}), 'Depot_Number': 'LATE2'}} {col}: "
                f"expected 1500.0, got 1000.0")
    assert sorted(diffs) == sorted(expected_diffs)
