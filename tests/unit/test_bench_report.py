"""bench/report.py and bench/run.py helpers: which block of docs/performance.md a results
file regenerates, and the days the chunk self-check compares."""

from datetime import date

from bench.report import BEGIN, END, SCALE_BEGIN, SCALE_END, write_doc
from bench.run import sample_days

DOC = f"# Performance\n\nhand-written\n\n{BEGIN}\nold main\n{END}\n\nmore text\n\n{SCALE_BEGIN}\nold scale\n{SCALE_END}\n\ntail\n"
BACKFILL = {"depots": 0, "runs": 2, "seconds": 100.0, "cpu_seconds": 150.0, "rss_mb": 4000.0,
            "aggregate_rows": 10, "label_rows": 5, "rows_per_second": 1, "load1": [0.1, 0.2]}


def test_scale_results_regenerate_only_the_scale_block(tmp_path):
    path = tmp_path / "perf.md"
    path.write_text(DOC)
    write_doc({"backfill/200k": {**BACKFILL, "depots": 200_000, "chunk_months": 1}}, path)
    text = path.read_text()
    assert "old main" in text and "old scale" not in text
    assert text.startswith("# Performance\n\nhand-written") and text.endswith("tail\n")
    scale = text.split(SCALE_BEGIN)[1].split(SCALE_END)[0]
    assert "| 200k | 10 | 5 | 100.0 | 150.0 | 2 | 4,000 | 1 | 0.1/0.2 |" in scale
    assert "peak RSS of every step at most 3.91 GB (backfill/200k; target < 8): met" in scale


def test_main_results_leave_the_scale_block(tmp_path):
    path = tmp_path / "perf.md"
    path.write_text(DOC)
    write_doc({"backfill/10k": {**BACKFILL, "depots": 10_000}}, path)
    text = path.read_text()
    assert "old scale" in text and "old main" not in text
    assert "| 10k | 10 | 5 | 100.0 |" in text.split(BEGIN)[1].split(END)[0]


def test_missed_scale_targets_say_so(tmp_path):
    path = tmp_path / "perf.md"
    path.write_text(DOC)
    res = {"backfill/200k": {**BACKFILL, "seconds": 1500.0, "rss_mb": 9000.0},
           "train/200k": {"per_horizon": [], "all_seconds": 240.0, "all_rss_mb": 5000.0, "runs": 1},
           "score/200k": {"rows": 1, "seconds": 60.0, "rss_mb": 1000.0, "rows_per_second": 1,
                          "phases": {"load_seconds": 1, "predict_seconds": 1, "write_seconds": 1}},
           "daily/200k/3m": {"months": 3, "seconds": 20.0, "steps": {}, "runs": 2, "rss_mb": 1.0, "exit_codes": [0, 0]},
           "daily/200k/24m": {"months": 24, "seconds": 25.0, "steps": {}, "runs": 2, "rss_mb": 1.0, "exit_codes": [0, 0]}}
    write_doc(res, path)
    scale = path.read_text().split(SCALE_BEGIN)[1]
    # 1500 + 240 + 60 s = 30.0 min: not below 30
    assert "25.0 + 4.0 + 1.0 = 30.0 min (target < 30): MISSED" in scale
    assert "at most 8.79 GB (backfill/200k; target < 8): MISSED" in scale
    assert "worst 25.0 s (target < 30): met" in scale
    assert "20.0 s vs 25.0 s (+25%; target within 10%): MISSED" in scale


def test_sample_days_are_the_month_boundaries_and_the_ends():
    assert sample_days(date(2025, 1, 15), date(2025, 3, 10)) == [
        date(2025, 1, 15), date(2025, 1, 31), date(2025, 2, 1), date(2025, 2, 28),
        date(2025, 3, 1), date(2025, 3, 10)]
    assert sample_days(date(2025, 2, 1), date(2025, 2, 20)) == [date(2025, 2, 1), date(2025, 2, 20)]


def test_report_cells_show_a_missing_time_as_a_dash_not_nan():
    # a failed step's time was not logged by older runners: the bench stores NaN for it
    from bench.report import table
    out = table(["step", "s"], [["qc", float("nan")], ["dbt", 28.2], ["score", None]])
    assert out.splitlines()[2:] == ["| qc | – |", "| dbt | 28.2 |", "| score | – |"]


def test_chunk_check_row_shows_the_last_run_tables_and_the_memory_limit():
    from bench.report import chunks_section
    entry = {"chunk_months": [1, 2], "seconds": 1400.0, "rss_mb": 6479.3, "sample_days": 50,
             "tables": 25, "rows_compared": 100, "equal": True, "differ": [], "load1": 0.3,
             "run_scoped": ["int_holdings_DEMO", "int_score_dates"], "run_days_compared": 31,
             "memory_limit": "6GB"}
    row = chunks_section({"chunks/200k": entry}, ["200k"]).splitlines()[-1]
    assert row == "| 200k | 1 vs 2 | 1,400.0 | 6,479 | 50 | 25 | 100 | 2 (31 days) | 6GB | yes | 0.3 |"
    # an entry of an older bench (no last-run comparison, no limit recorded) shows dashes
    old = {k: v for k, v in entry.items() if k not in ("run_scoped", "run_days_compared", "memory_limit")}
    assert chunks_section({"chunks/200k": old}, ["200k"]).splitlines()[-1] == \
        "| 200k | 1 vs 2 | 1,400.0 | 6,479 | 50 | 25 | 100 | – | – | yes | 0.3 |"
