"""int_holding_firsts kept between runs stays right (slow; docs/dbt.md, macros/holding_firsts.sql).

Three runs on a growing, changing source, each compared with a build from scratch on the
same source (and the marts with the reference):

1. first build on the files known by 2025-02-15 (E: a conflicting duplicate on its first
   day is no holding);
2. incremental: the later regular files, a B file for the gap day 02-10 delivered late
   (a new depot C, a new ISIN Z of A): first dates are lowered or added from the new
   files only;
3. a correction supersedes the B file of 01-20 (B's first file) without B's rows: first
   dates must move later, which only the full recompute (triggered by the changed
   registered file) gives.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.dbt import reference
from tests.dbt.harness import DbtHarness, require_dbt_models
from tests.dbt.world import OTHER, OTHER2, OTHER3, World, known_by

pytestmark = pytest.mark.slow

X, Y, Z = OTHER, OTHER2, OTHER3
FIRST, CUT, LAST = date(2025, 1, 2), date(2025, 2, 15), date(2025, 2, 28)
KEYS = ["Score_Date", "Depot_Number"]


def base_world() -> World:
    w = World(FIRST, LAST, b_gaps={date(2025, 2, 10)})
    w.depot("A", positions=[(X, "1", "100.00")])
    w.depot("B", first="2025-01-20", positions=[(Y, "2", "200.00")])
    w.depot("D", first="2025-02-20")
    # E's first file has a conflicting saldo and a conflicting position (two different rows
    # each): no valid row there, so E and its X are first seen on 01-03
    w.depot("E", positions=[(X, "1", "100.00")])
    w.saldo(w.b(FIRST), "E", "999.00")
    w.position(w.b(FIRST), "E", X, "5", "1.00")
    return w


def _firsts(db) -> dict[tuple, date]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.sql("SELECT Depot_Number, ISIN, First_Date FROM dbo.int_holding_firsts").fetchall()
    finally:
        con.close()
    return {(d, i): pd.Timestamp(f).date() for d, i, f in rows}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    require_dbt_models()
    root = tmp_path_factory.mktemp("holding_firsts")
    w = base_world()
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp)

        def step(name, frames, day):
            h.use_target(root / "kept.duckdb")
            h.write_source(frames)
            h.dbt(day, day)
            out[name] = _firsts(h.target_db)
            got = h.read()
            agg = got.agg[got.agg["Score_Date"].map(reference.plain) == day]   # the day of the run
            out[name + "_marts"] = (got._replace(agg=agg), h.reference(day, day))
            h.use_target(root / f"scratch_{name}.duckdb")
            h.dbt(day, day)
            out[name + "_scratch"] = _firsts(h.target_db)

        step("first", known_by(w.frames(), CUT), CUT)
        late = w.file(9001, "B", "2025-02-10", "2025-02-21 10:00")
        w.saldo(late, "A", "1000.00")
        w.position(late, "A", X, "1", "100.00")
        w.position(late, "A", Z, "3", "300.00")
        w.saldo(late, "C", "50.00")
        step("late", w.frames(), LAST)
        fix = w.file(9002, "B", "2025-01-20", "2025-02-28 23:00")
        w.saldo(fix, "A", "1000.00")
        w.position(fix, "A", X, "1", "100.00")
        step("fix", w.frames(), LAST)
    return out


@pytest.mark.parametrize("name", ["first", "late", "fix"])
def test_kept_table_equals_build_from_scratch(runs, name):
    assert runs[name] == runs[name + "_scratch"]
    got, expected = runs[name + "_marts"]
    assert not reference.diff_tables(expected.agg, got.agg, KEYS)


def test_first_dates_by_hand(runs):
    d = date.fromisoformat
    assert runs["first"] == {("A", "-"): d("2025-01-02"), ("A", X): d("2025-01-02"),
                             ("B", "-"): d("2025-01-20"), ("B", Y): d("2025-01-20"),
                             ("E", "-"): d("2025-01-03"), ("E", X): d("2025-01-03")}
    # the late B file of 02-10 adds C and A's Z; D arrives on 02-20
    assert runs["late"] == {**runs["first"], ("A", Z): d("2025-02-10"),
                            ("C", "-"): d("2025-02-10"), ("D", "-"): d("2025-02-20")}
    # the correction of 01-20 has no row of B: B is first seen on 01-21
    assert runs["fix"] == {**runs["late"], ("B", "-"): d("2025-01-21"), ("B", Y): d("2025-01-21")}


def test_tenure_follows_the_correction(runs):
    got, _ = runs["fix_marts"]
    row = got.agg[got.agg["Depot_Number"] == "B"].iloc[0]
    assert int(row["Tenure_Days"]) == (LAST - date(2025, 1, 21)).days
