"""Daily runs on a growing source equal one backfill on the final source (slow).

The realistic daily operation: on day D the source holds the files delivered up to D
(here: Datei_Datum <= D, the rules' knowledge time) and dbt runs for Score_Date D only.
docs/rules.md §1-§6 (knowledge time) promises that a backfill of a past day gives exactly what the
daily run gave on that day; ml/pipeline.build_day promises that the daily run refreshes
every earlier label that can have changed. So after the last day, the aggregates and labels
built day by day must equal a backfill of the whole range on the final source (and the
reference). The range 04-01..04-12 of the rule world holds LAB1 (target buy 04-08), LAB4
(buy of 04-10 delivered on 04-12), LAB5 (buy of 04-03 cancelled on 04-06).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.dbt import reference
from tests.dbt.harness import DbtHarness, require_dbt_models
from tests.dbt.test_rules import rule_world
from tests.dbt.world import known_by

pytestmark = pytest.mark.slow

FIRST, LAST = date(2025, 4, 1), date(2025, 4, 12)
KEYS = ["Score_Date", "Depot_Number"]


@pytest.fixture(scope="module")
def growing(tmp_path_factory):
    require_dbt_models()
    root = tmp_path_factory.mktemp("growing")
    full = rule_world().frames()
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp)
        h.use_target(root / "daily.duckdb")
        day = FIRST
        while day <= LAST:
            h.write_source(known_by(full, day))
            h.dbt(day, day)
            day += timedelta(days=1)
        out["daily"] = h.read()
        h.use_target(root / "backfill.duckdb")
        h.dbt(FIRST, LAST)
        out["backfill"] = h.read()
        out["reference"] = h.reference(FIRST, LAST)
    return out


def _diff(a, b, name, what):
    diffs = reference.diff_tables(getattr(a, name), getattr(b, name), KEYS)
    assert not diffs, f"{what} ({name}; expected = first, got = second):\n  " + "\n  ".join(diffs)


def test_daily_aggregates_equal_backfill(growing):
    _diff(growing["backfill"], growing["daily"], "agg", "backfill vs day-by-day on a growing source")


def test_daily_labels_refreshed_equal_backfill(growing):
    _diff(growing["backfill"], growing["daily"], "labels",
          "backfill vs day-by-day on a growing source")


def test_backfill_equals_reference(growing):
    _diff(growing["reference"], growing["backfill"], "agg", "reference vs dbt")
    _diff(growing["reference"], growing["backfill"], "labels", "reference vs dbt")


def test_label_refresh_hand_values(growing):
    # Final source: horizon 04-12. LAB1 buys 04-08: label_T7 of 04-01 is 1 (set by the run
    # of 04-08, not by the run of 04-01 when it was censored). LAB5's buy of 04-03 was
    # cancelled on 04-06: no first buy; 04-01 + 7 = 04-08 <= 04-12 -> 0.
    lab = {(r["Score_Date"], r["Depot_Number"]): r for r in reference.records(growing["daily"].labels)}
    assert lab[(date(2025, 4, 1), "LAB1")]["label_T7"] == 1
    assert lab[(date(2025, 4, 1), "LAB5")]["label_T7"] == 0
    assert lab[(date(2025, 4, 1), "LAB5")]["first_buy_date"] is None
    # LAB5 Pre_First_Target was 0 on 04-03..04-05 (buy known, not yet cancelled): no label rows.
    assert (date(2025, 4, 4), "LAB5") not in lab and (date(2025, 4, 6), "LAB5") in lab
