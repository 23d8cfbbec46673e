"""FA_DATA_QUALITY stays right when its cd_Saldo/cd_Bestand counts are kept between runs (slow).

int_holdings_file_quality (incremental) classifies only new or changed B files on a run.
After a first build, the source changes in every way that must make it redo a stored
file: a late correction supersedes an old B file (its rows become superseded_file), new
rows arrive for a file already counted, a file gets a bad row, and rows without a
Datei_ID appear. A second (incremental) run must give exactly the reference's counts on
the changed source, like a build from scratch does.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.dbt import reference
from tests.dbt.harness import DbtHarness, require_dbt_models
from tests.dbt.test_rules import rule_world
from tests.dbt.world import OTHER

pytestmark = pytest.mark.slow

DAY = date(2025, 4, 30)
DQ_KEYS = ["Datei_Datum", "Source_Table", "Reason"]


def _dq_diff(expected, got) -> list[str]:
    exp, g = expected.copy(), got.copy()
    exp["Source_Table"] = exp["Source_Table"].str.lower()
    g["Source_Table"] = g["Source_Table"].astype(str).str.lower()
    return reference.diff_tables(exp, g, DQ_KEYS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    require_dbt_models()
    root = tmp_path_factory.mktemp("dq_incremental")
    w = rule_world()
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp)
        h.write_source(w.frames())
        h.dbt(DAY, DAY)                                       # first build: every file
        out["first"] = (h.read().dq, h.reference(DAY, DAY).dq)
        # changes after the first build
        fix = w.file(9901, "B", "2025-03-03", "2025-03-05 08:00")   # supersedes b(03-03)
        w.saldo(fix, "SUP1", "10.00")
        w.saldo(fix, "SUP1", "10.00")                                  # duplicate_row
        w.position(fix, "SUP1", OTHER, "1", "100.00")
        w.saldo(w.b("2025-04-02"), "LATE1", "5.00")                    # a new row, old file
        w.position(w.b("2025-04-03"), "LATE1", OTHER, "-1", "5.00")    # negative_amount
        w.saldo(None, "NOFILE", "1.00")                                # no Datei_ID
        h.write_source(w.frames())
        h.dbt(DAY, DAY)                                       # incremental run
        out["second"] = (h.read().dq, h.reference(DAY, DAY).dq)
        h.use_target(root / "scratch.duckdb")
        h.dbt(DAY, DAY)                                       # from scratch, same source
        out["scratch"] = h.read().dq
    return out


def test_first_build_agrees_with_reference(runs):
    got, expected = runs["first"]
    assert not _dq_diff(expected, got)


def test_incremental_run_redoes_changed_files(runs):
    got, expected = runs["second"]
    # the changes are visible, or the test proves nothing
    sup = expected[(expected["Source_Table"] == "cd_Saldo") & (expected["Reason"] == "superseded_file")]
    assert date(2025, 3, 3) in {reference.plain(x) for x in sup["Datei_Datum"]}
    assert ((expected["Reason"] == "negative_amount") & (expected["Source_Table"] == "cd_Bestand")).any()
    assert (expected["Reason"] == "unknown_file").any()
    diffs = _dq_diff(expected, got)
    assert not diffs, "\n".join(diffs)


def test_incremental_equals_build_from_scratch(runs):
    got, _ = runs["second"]
    assert not _dq_diff(runs["scratch"], got)
