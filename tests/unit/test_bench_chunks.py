"""The chunk self-check's comparison (bench/run.py compare_backfills) on two tiny DBs."""

from __future__ import annotations

from pathlib import Path

import duckdb

from bench.run import compare_backfills


def make_db(path: Path, scores: bool) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA dbo")
    con.execute("CREATE TABLE dbo.CD_FA_AGG_BUY_DEMO AS SELECT DATE '2025-01-01' + range::INT AS Score_Date, "
                "range AS v FROM range(100)")  # 2025-01-01 .. 2025-04-10
    con.execute("CREATE TABLE dbo.int_files AS SELECT range AS Datei_ID FROM range(5)")
    con.execute("CREATE TABLE dbo.FA_RUN_LOG AS SELECT 1 AS x")
    if scores:  # written by the score step on the reference DB only
        con.execute("CREATE TABLE dbo.CD_FA_BUY_DEMO_ML AS SELECT DATE '2025-04-10' AS Score_Date")
    con.close()


def test_tables_of_later_steps_are_skipped_and_a_changed_row_differs(tmp_path):
    ref, chunked = tmp_path / "ref.duckdb", tmp_path / "chunked.duckdb"
    make_db(ref, scores=True)
    make_db(chunked, scores=False)
    got = compare_backfills(ref, chunked)
    # sample days: lo, hi and both sides of the three month boundaries = 8 rows of the mart
    assert got == {"sample_days": 8, "tables": 2, "rows_compared": 8 + 5, "equal": True, "differ": [],
                   "skipped": ["CD_FA_BUY_DEMO_ML", "FA_RUN_LOG"]}
    con = duckdb.connect(str(chunked))
    con.execute("UPDATE dbo.CD_FA_AGG_BUY_DEMO SET v = v + 1 WHERE Score_Date = DATE '2025-01-31'")
    con.close()
    assert compare_backfills(ref, chunked)["differ"] == ["CD_FA_AGG_BUY_DEMO"]


def test_a_table_missing_from_the_reference_differs(tmp_path):
    ref, chunked = tmp_path / "ref.duckdb", tmp_path / "chunked.duckdb"
    make_db(ref, scores=False)
    make_db(chunked, scores=True)
    got = compare_backfills(ref, chunked)
    assert not got["equal"] and got["differ"] == ["CD_FA_BUY_DEMO_ML"]
