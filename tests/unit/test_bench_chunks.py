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
                   "skipped": ["CD_FA_BUY_DEMO_ML", "FA_RUN_LOG"],
                   "run_scoped": [], "run_days_compared": 0}
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


def update(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    con.execute(sql)
    con.close()


def two_backfills(tmp_path: Path, ref_days: int, chunked_days: int) -> tuple[Path, Path]:
    """make_db twice, whose last runs cover the last ref_days / chunked_days days."""
    ref, chunked = tmp_path / "ref.duckdb", tmp_path / "chunked.duckdb"
    for path, days in ((ref, ref_days), (chunked, chunked_days)):
        make_db(path, scores=False)
        add_last_run(path, days)
    return ref, chunked


def add_last_run(path: Path, days: int) -> None:
    """int_score_dates of a last run over the last ``days`` days of make_db's range and a
    run-scoped table over them (value = day number)."""
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE dbo.int_score_dates AS SELECT DATE '2025-04-10' - range::INT AS Score_Date "
                f"FROM range({days})")
    con.execute("CREATE TABLE dbo.int_holdings_DEMO AS SELECT Score_Date, "
                "(Score_Date - DATE '2025-01-01') AS v FROM dbo.int_score_dates")
    con.close()


def test_tables_of_the_last_run_are_compared_on_the_days_both_last_runs_cover(tmp_path):
    # reference: 1-month chunks (last run 30 days); chunked: 2-month chunks (last run 61 days)
    ref, chunked = two_backfills(tmp_path, 30, 61)
    got = compare_backfills(ref, chunked)
    assert got["equal"], got
    assert got["run_scoped"] == ["int_holdings_DEMO", "int_score_dates"] and got["run_days_compared"] == 30
    # a day only the chunked run has does not count; a changed day both cover does
    update(chunked, "UPDATE dbo.int_holdings_DEMO SET v = -1 WHERE Score_Date = DATE '2025-02-20'")
    assert compare_backfills(ref, chunked)["equal"]
    update(chunked, "UPDATE dbo.int_holdings_DEMO SET v = -1 WHERE Score_Date = DATE '2025-04-01'")
    assert compare_backfills(ref, chunked)["differ"] == ["int_holdings_DEMO"]


def test_a_table_of_the_last_run_in_one_db_only_is_compared_on_the_sample_days(tmp_path):
    # the mart holding only the last chunk's days in the chunked DB (lost history) differs
    ref, chunked = two_backfills(tmp_path, 30, 30)
    update(chunked, "DELETE FROM dbo.CD_FA_AGG_BUY_DEMO WHERE Score_Date < DATE '2025-03-12'")
    got = compare_backfills(ref, chunked)
    assert got["differ"] == ["CD_FA_AGG_BUY_DEMO"] and "CD_FA_AGG_BUY_DEMO" not in got["run_scoped"]
