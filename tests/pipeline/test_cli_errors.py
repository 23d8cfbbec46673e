"""Hostile CLI input and configuration: one exact ``Error: ...`` line, a non-zero exit code,
and nothing written (no FA database file, no lock file, no artifacts) for every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrate import cli

TRAIN_DATES = ["--train-start", "2024-10-25", "--train-end", "2025-06-10",
               "--test-start", "2025-06-11", "--test-end", "2025-07-21"]
GOOD_CONFIG = "target:\n  code: DEMO\n  isins: [LU000DEMO015]\n  min_ticket_eur: 1000\n  horizons: [7, 14, 30]\n"

# Every command with valid options: used to show a bad FA_CONFIG stops each of them.
EVERY_COMMAND = [
    ["demo-data", "--depots", "10", "--days", "30"],
    ["backfill", "--start-date", "2025-08-01", "--end-date", "2025-08-20"],
    ["daily", "--date", "2025-08-20"],
    ["train", "--horizons", "7", *TRAIN_DATES],
    ["score", "--date", "2025-08-20"],
    ["eval", "--horizons", "7", "--start", "2025-06-01", "--end", "2025-07-01"],
    ["qc"],
    ["registry", "list"],
    ["registry", "promote", "20250101T000000Z-abcdef"],
    ["registry", "rollback"],
    ["demo", "--depots", "50", "--days", "300"],
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "data" / "fa.duckdb"))
    monkeypatch.setenv("FA_ART_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "data" / "src.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    monkeypatch.delenv("FA_CONFIG", raising=False)
    monkeypatch.delenv("FA_ENGINE", raising=False)
    monkeypatch.delenv("FA_LOCK_OWNER_PID", raising=False)
    return tmp_path


def invoke(args):
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output.strip().splitlines()[-1]


def invoke_step(args, capsys):
    """The runner's step entry point (python -m ml.steps), in-process: exit code, last stderr line."""
    from ml.steps import main

    code = main(args)
    return code, capsys.readouterr().err.strip().splitlines()[-1]


DBT_STEP = ["dbt", "--date", "2025-08-20", "--fund", "DEMO"]


def written(home: Path) -> list[str]:
    """Everything under the test's folder except the config files the test wrote."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.is_file() and not p.name.endswith(".yml"))


D = "is not a date (expected YYYY-MM-DD)"


@pytest.mark.parametrize("args, line", [
    # unparseable dates, every command that takes one
    (["backfill", "--start-date", "2025-13-01", "--end-date", "2025-12-31"],
     f"Error: --start-date: '2025-13-01' {D}"),
    (["backfill", "--start-date", "2025-01-01", "--end-date", "yesterday"],
     f"Error: --end-date: 'yesterday' {D}"),
    (["daily", "--date", "2025-02-29"], f"Error: --date: '2025-02-29' {D}"),
    (["daily", "--date", "20250820"], f"Error: --date: '20250820' {D}"),
    (["score", "--date", "2025-08-20T00:00"], f"Error: --date: '2025-08-20T00:00' {D}"),
    (["qc", "--date", "'; DROP TABLE x; --"], f"Error: --date: ''; DROP TABLE x; --' {D}"),
    (["train", "--horizons", "7", *TRAIN_DATES[:1], "2024-02-30", *TRAIN_DATES[2:]],
     f"Error: --train-start: '2024-02-30' {D}"),
    (["eval", "--horizons", "7", "--start", "x", "--end", "2025-07-01"], f"Error: --start: 'x' {D}"),
    (["demo", "--end-date", "2025-00-10"], f"Error: --end-date: '2025-00-10' {D}"),
    (["demo-data", "--end-date", ""], f"Error: --end-date: '' {D}"),
    # end before start
    (["backfill", "--start-date", "2025-08-20", "--end-date", "2025-08-01"],
     "Error: --end-date 2025-08-01 is before --start-date 2025-08-20"),
    (["eval", "--horizons", "7", "--start", "2025-07-01", "--end", "2025-06-01"],
     "Error: --start must not be after --end"),
    (["train", "--horizons", "7", "--train-start", "2025-06-10", "--train-end", "2024-10-25",
      "--test-start", "2025-06-11", "--test-end", "2025-07-21"],
     "Error: --train-start must not be after --train-end"),
    (["train", "--horizons", "7", "--train-start", "2024-10-25", "--train-end", "2025-06-10",
      "--test-start", "2025-06-01", "--test-end", "2025-07-21"],
     "Error: the test window must start after the training window ends (--test-start > --train-end)"),
    # backfill range options
    (["backfill", "--months", "3", "--start-date", "2025-01-01"],
     "Error: give either --months or --start-date/--end-date, not both"),
    (["backfill", "--start-date", "2025-01-01"], "Error: give --months N, or both --start-date and --end-date"),
    (["backfill"], "Error: give --months N, or both --start-date and --end-date"),
    (["backfill", "--months", "0"],
     "Error: Invalid value for '--months': 0 is not in the range 1<=x<=240."),
    (["backfill", "--months", "3", "--chunk-months", "0"],
     "Error: Invalid value for '--chunk-months': 0 is not in the range 1<=x<=240."),
    # horizons
    (["train", "--horizons", "7,x", *TRAIN_DATES], "Error: --horizons: 'x' is not a horizon between 1 and 365 days"),
    (["train", "--horizons", "0", *TRAIN_DATES], "Error: --horizons: '0' is not a horizon between 1 and 365 days"),
    (["train", "--horizons", "", *TRAIN_DATES], "Error: --horizons: '' is not a horizon between 1 and 365 days"),
    (["train", "--horizons", "7,60", *TRAIN_DATES],
     "Error: --horizons: 60 not configured (FA_CONFIG target.horizons: 7, 14, 30)"),
    (["eval", "--horizons", "-7", "--start", "2025-06-01", "--end", "2025-07-01"],
     "Error: --horizons: '-7' is not a horizon between 1 and 365 days"),
    (["eval", "--horizons", "7;DROP", "--start", "2025-06-01", "--end", "2025-07-01"],
     "Error: --horizons: '7;DROP' is not a horizon between 1 and 365 days"),
    # numbers
    (["train", "--horizons", "7", *TRAIN_DATES, "--learning-rate", "0"],
     "Error: Invalid value for '--learning-rate': 0.0 is not in the range 0<x<=1."),
    (["train", "--horizons", "7", *TRAIN_DATES, "--n-estimators", "-5"],
     "Error: Invalid value for '--n-estimators': -5 is not in the range 1<=x<=100000."),
    (["qc", "--window-days", "0"], "Error: Invalid value for '--window-days': 0 is not in the range 1<=x<=3650."),
    (["demo-data", "--depots", "0"], "Error: Invalid value for '--depots': 0 is not in the range 1<=x<=1000000."),
])
def test_bad_option_is_one_error_line_and_nothing_written(home, args, line):
    code, last = invoke(args)
    assert code == 2
    assert last == line
    assert written(home) == []


@pytest.mark.parametrize("text, line", [
    ("target: [unclosed\n", "Error: FA_CONFIG: {path} is not valid YAML (line 2)"),
    ("\x00\x01binary", "Error: FA_CONFIG: {path} is not valid YAML"),
    ("just a string\n", "Error: FA_CONFIG: {path} must hold a mapping with a 'target' block"),
    ("qc: {}\n", "Error: FA_CONFIG: missing key 'target'"),
    ("target:\n  isins: [LU000DEMO015]\n", "Error: FA_CONFIG target: missing key 'code'"),
    ("target:\n  code: DEMO\n", "Error: FA_CONFIG target: missing key 'isins'"),
    ("target:\n  code: demo\n  isins: [LU000DEMO015]\n",
     "Error: FA_CONFIG: target.code must match [A-Z0-9_]+ (got 'demo')"),
    ("target:\n  code: \"DEMO; DROP TABLE dbo.x\"\n  isins: [LU000DEMO015]\n",
     "Error: FA_CONFIG: target.code must match [A-Z0-9_]+ (got 'DEMO; DROP TABLE dbo.x')"),
    ("target:\n  code: DEMO\n  isins: [LU000DEMO01]\n",
     "Error: FA_CONFIG: malformed ISIN 'LU000DEMO01' in target.isins"),
    ("target:\n  code: DEMO\n  isins: [\"LU000DEMO015' OR 1=1 --\"]\n",
     "Error: FA_CONFIG: malformed ISIN \"LU000DEMO015' OR 1=1 --\" in target.isins"),
    ("target:\n  code: DEMO\n  isins: LU000DEMO015\n", "Error: FA_CONFIG: target.isins must be a non-empty list"),
    ("target:\n  code: DEMO\n  isins: [LU000DEMO015]\n  horizons: [7, 0]\n",
     "Error: FA_CONFIG: target.horizons: 0 is not a horizon between 1 and 365 days"),
    ("target:\n  code: DEMO\n  isins: [LU000DEMO015]\n  min_ticket_eur: -1\n",
     "Error: FA_CONFIG: target.min_ticket_eur must be a positive number"),
])
@pytest.mark.parametrize("args", EVERY_COMMAND, ids=lambda a: " ".join(a[:2]))
def test_bad_fa_config_stops_every_command(home, monkeypatch, text, line, args):
    path = home / "fund.yml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("FA_CONFIG", str(path))
    code, last = invoke(args)
    assert code == 2
    assert last == line.format(path=path)
    assert written(home) == []


@pytest.mark.parametrize("args, line", [
    (["dbt", "--date", "2025-8-1", "--fund", "DEMO"], f"Error: --date: '2025-8-1' {D}"),
    (["dbt", "--date", "2025-08-20", "--fund", "NOPE"],
     "Error: --fund: no fund 'NOPE' in FA_CONFIG (funds: DEMO)"),
    (["dbt", "--date", "2025-08-20"], "Error: the following arguments are required: --fund"),
    (["dbt", "--date", "2025-08-20", "--fund", "DEMO", "--extra"], "Error: unrecognized arguments: --extra"),
])
def test_bad_step_input_is_one_error_line_and_nothing_written(home, capsys, args, line):
    assert invoke_step(args, capsys) == (2, line)
    assert written(home) == []


def test_build_day_is_no_command_any_more(home, capsys):
    """The daily's dbt step is ``python -m ml.steps dbt`` (the hidden build-day is gone)."""
    code, last = invoke(["build-day", "--date", "2025-08-20"])
    assert (code, last) == (2, "Error: No such command 'build-day'.")
    code, last = invoke_step(["build-day", "--date", "2025-08-20"], capsys)
    assert code == 2 and last.startswith("Error: argument STEP: invalid choice: 'build-day'")


def test_bad_fa_config_stops_the_dbt_step(home, monkeypatch, capsys):
    path = home / "fund.yml"
    path.write_text("target:\n  code: DEMO\n", encoding="utf-8")
    monkeypatch.setenv("FA_CONFIG", str(path))
    assert invoke_step(DBT_STEP, capsys) == (2, "Error: FA_CONFIG target: missing key 'isins'")
    monkeypatch.setenv("FA_CONFIG", str(home / "nowhere.yml"))
    assert invoke_step(DBT_STEP, capsys) == (2, f"Error: FA_CONFIG: no such file: {home / 'nowhere.yml'}")
    assert written(home) == []


def test_a_bug_in_a_step_is_one_line_unless_fa_debug(home, monkeypatch, capsys):
    """The same edge as orchestrate.py's (ml.errors.at_edge): exit 1 and a hint, or the trace."""
    import ml.pipeline

    def boom(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ml.pipeline, "build_day", boom)
    assert invoke_step(DBT_STEP, capsys) == (
        1, "Error: unexpected ZeroDivisionError: division by zero (set FA_DEBUG=1 for the trace)")
    monkeypatch.setenv("FA_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        invoke_step(DBT_STEP, capsys)


def test_fa_config_path_missing(home, monkeypatch):
    missing = home / "nowhere" / "fund.yml"
    monkeypatch.setenv("FA_CONFIG", str(missing))
    for args in EVERY_COMMAND:
        assert invoke(args) == (2, f"Error: FA_CONFIG: no such file: {missing}")
    assert written(home) == []


def test_fa_duckdb_path_that_cannot_be_created(home, monkeypatch):
    blocker = home / "blocker"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setenv("FA_DUCKDB_PATH", str(blocker / "sub" / "fa.duckdb"))
    lock = blocker / "sub" / "fa.duckdb.lock"
    for args in (["backfill", "--start-date", "2025-08-01", "--end-date", "2025-08-20"],
                 ["daily", "--date", "2025-08-20"], ["score"], ["registry", "rollback"]):
        assert invoke(args) == (2, f"Error: FA_DUCKDB_PATH: cannot create {lock} (Not a directory)")
    assert written(home) == ["blocker"]


def test_unknown_engine(home, monkeypatch):
    monkeypatch.setenv("FA_ENGINE", "oracle")
    assert invoke(["score"]) == (2, "Error: FA_ENGINE must be one of duckdb, sqlserver (got 'oracle')")
    assert written(home) == []


def test_good_config_passes_validation(home, monkeypatch):
    """Control: the same checks let a valid config through (the run then stops for lack of data)."""
    path = home / "fund.yml"
    path.write_text(GOOD_CONFIG, encoding="utf-8")
    monkeypatch.setenv("FA_CONFIG", str(path))
    code, last = invoke(["score", "--date", "2025-08-20"])
    assert code == 3
    assert last.startswith("Error: ")
