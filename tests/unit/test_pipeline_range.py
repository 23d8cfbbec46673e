"""ml.pipeline: backfill range resolution, chunking, the data horizon (no dbt run)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ml.config import load_settings
from ml.errors import BadInput, DataError
from ml.pipeline import (CHUNK_MONTHS, add_months, chunk_args, chunk_months_for, chunk_range, chunk_threads,
                         data_horizon, resolve_backfill_range, universe_estimate)
from ml.source import write_source_db


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "src.duckdb"))
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    monkeypatch.delenv("FA_CONFIG", raising=False)
    return load_settings()


def write_files(settings, rows):
    cols = ["Datei_ID", "Datei_Typ", "Datei_Datum", "Import_Zeit", "Datei_Name"]
    write_source_db(settings.source_db, {"cd_Datei": pd.DataFrame(rows, columns=cols)})


def test_horizon_is_latest_valid_u_file(settings):
    t = pd.Timestamp("2025-09-01 08:00")
    write_files(settings, [
        (1, "U", pd.Timestamp("2025-08-20"), t, "u"),
        (2, " u ", pd.Timestamp("2025-08-19"), t, "u lower, padded"),
        (3, "B", pd.Timestamp("2025-08-22"), t, "B does not count"),
        (None, "U", pd.Timestamp("2025-08-25"), t, "no id: bad file"),
        (5, "X", pd.Timestamp("2025-08-26"), t, "bad type"),
    ])
    assert data_horizon(settings) == date(2025, 8, 20)


def test_months_count_back_from_the_horizon(settings):
    write_files(settings, [(1, "U", pd.Timestamp("2025-08-20"), pd.Timestamp("2025-08-21"), "u")])
    assert resolve_backfill_range(settings, 3, None, None) == (date(2025, 5, 21), date(2025, 8, 20))
    assert resolve_backfill_range(settings, 24, None, None) == (date(2023, 8, 21), date(2025, 8, 20))


def test_missing_source_names_the_fix(settings):
    with pytest.raises(DataError, match=r"run 'python orchestrate.py demo-data' first"):
        resolve_backfill_range(settings, 3, None, None)


def test_source_without_u_file_is_a_data_error(settings):
    write_files(settings, [(3, "B", pd.Timestamp("2025-08-22"), pd.Timestamp("2025-08-23"), "b")])
    with pytest.raises(DataError, match="no counting U file"):
        data_horizon(settings)


@pytest.mark.parametrize("months, start, end, message", [
    (3, date(2024, 1, 1), None, "either --months or --start-date/--end-date, not both"),
    (None, date(2024, 1, 1), None, "give --months N, or both --start-date and --end-date"),
    (None, None, date(2024, 1, 1), "give --months N, or both --start-date and --end-date"),
    (None, None, None, "give --months N, or both --start-date and --end-date"),
    (None, date(2024, 2, 1), date(2024, 1, 31), "--end-date 2024-01-31 is before --start-date 2024-02-01"),
])
def test_bad_combinations(settings, months, start, end, message):
    with pytest.raises(BadInput) as err:
        resolve_backfill_range(settings, months, start, end)
    assert message in str(err.value)


def test_universe_is_estimated_from_the_latest_b_file(settings):
    t = pd.Timestamp("2025-09-01 08:00")
    files = pd.DataFrame([(1, "B", pd.Timestamp("2025-08-19"), t, "b1"),
                          (2, " b ", pd.Timestamp("2025-08-20"), t, "b2, padded"),
                          (3, "U", pd.Timestamp("2025-08-21"), t, "u")],
                         columns=["Datei_ID", "Datei_Typ", "Datei_Datum", "Import_Zeit", "Datei_Name"])
    saldo = pd.DataFrame({"Datei_ID": [1] * 5 + [2] * 3, "Depot_Number": list("abcde") + list("abc"),
                          "Cash_EUR": ["1.00"] * 8})
    write_source_db(settings.source_db, {"cd_Datei": files, "cd_Saldo": saldo})
    assert universe_estimate(settings) == 3


def test_chunks_hold_at_most_chunk_rows_depot_days():
    # 2k depots: 4M rows are 64 months of 31 days; 50k: 2 months; never less than one
    assert chunk_months_for(2_000, 4_000_000) == 64
    assert chunk_months_for(50_000, 4_000_000) == 2
    assert chunk_months_for(1_000_000, 4_000_000) == 1
    assert chunk_months_for(0, 4_000_000) == CHUNK_MONTHS   # no B file: the fixed default
    for depots in (1, 999, 38_500, 77_777):
        months = chunk_months_for(depots, 4_000_000)
        assert months == 1 or depots * 31 * months <= 4_000_000


def test_explicit_range_needs_no_source(settings):
    assert resolve_backfill_range(settings, None, date(2024, 1, 1), date(2024, 1, 1)) == \
        (date(2024, 1, 1), date(2024, 1, 1))


def test_add_months_clamps_to_month_end():
    assert add_months(date(2024, 5, 31), -3) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 15), -13) == date(2023, 12, 15)


def test_chunks_cover_the_range_without_gaps():
    assert chunk_range(date(2024, 1, 1), date(2024, 8, 15), 3) == [
        (date(2024, 1, 1), date(2024, 3, 31)),
        (date(2024, 4, 1), date(2024, 6, 30)),
        (date(2024, 7, 1), date(2024, 8, 15)),
    ]
    assert chunk_range(date(2024, 1, 1), date(2024, 1, 1), 3) == [(date(2024, 1, 1), date(2024, 1, 1))]


def test_chunk_args_build_data_quality_once_and_range_models_after_the_first():
    assert chunk_args(1, 1) == ["run"]
    assert chunk_args(1, 3) == ["run", "--exclude", "fa_data_quality"]
    assert chunk_args(2, 3) == ["run", "--select", "int_score_dates+", "--exclude", "fa_data_quality"]
    assert chunk_args(3, 3) == ["run", "--select", "int_score_dates+", "fa_data_quality"]


def test_chunk_threads_one_dbt_thread_on_duckdb_only():
    # DuckDB: one process, one memory limit for every model running at once; SQL Server
    # keeps the profile's threads (the server has the cores)
    assert chunk_threads("duckdb") == ["--threads", "1"]
    assert chunk_threads("sqlserver") == []


def test_count_rows_counts_the_range_and_zero_for_missing_tables(settings):
    import duckdb

    from ml.pipeline import count_rows

    con = duckdb.connect(str(settings.duckdb_path))
    con.execute("CREATE SCHEMA dbo")
    con.execute(f"CREATE TABLE dbo.{settings.agg_table} (Score_Date DATE, Depot_Number VARCHAR)")
    con.execute(f"INSERT INTO dbo.{settings.agg_table} VALUES "
                "('2025-08-19', 'a'), ('2025-08-20', 'a'), ('2025-08-20', 'b'), ('2025-08-21', 'a')")
    con.close()
    assert count_rows(settings, date(2025, 8, 20), date(2025, 8, 21)) == {
        "aggregate_rows": 3, "label_rows": 0}
