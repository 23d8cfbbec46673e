"""Several funds in one FA_CONFIG: `targets:`, Settings.for_fund, --fund on the CLI, the
daily runner's steps per fund and the SQL Server applock names."""

from datetime import date

import pytest
from click.testing import CliRunner

from ml import runner
from ml.config import load_settings
from ml.db_sqlserver import applock_names
from ml.errors import BadInput
from orchestrate import cli

TWO = """
targets:
  - code: DEMO
    isins: [LU000DEMO015, LU000DEMO023]
  - code: SECOND
    isins: [LU000DEMO023, IE00B4L5Y983]
    min_ticket_eur: 500
    horizons: [7, 30]
"""


def settings_of(tmp_path, text):
    path = tmp_path / "fund.yml"
    path.write_text(text, encoding="utf-8")
    return load_settings({"FA_CONFIG": str(path)})


@pytest.fixture
def two_funds(tmp_path, monkeypatch):
    path = tmp_path / "fund.yml"
    path.write_text(TWO, encoding="utf-8")
    monkeypatch.setenv("FA_CONFIG", str(path))
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    monkeypatch.setenv("FA_ART_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "src.duckdb"))
    monkeypatch.delenv("FA_LOCK_OWNER_PID", raising=False)
    return path


def test_targets_list_and_for_fund(tmp_path):
    s = settings_of(tmp_path, TWO)
    assert s.fund_codes == ("DEMO", "SECOND")
    assert s.target.code == "DEMO"                      # the first fund unless chosen
    second = s.for_fund("SECOND")
    assert second.target.isins == ("IE00B4L5Y983", "LU000DEMO023")  # sorted
    assert second.target.min_ticket_eur == 500.0 and second.target.horizons == (7, 30)
    assert second.agg_table == "CD_FA_AGG_BUY_SECOND" and second.scores_table == "CD_FA_BUY_SECOND_ML"
    assert second.qc == s.qc and second.duckdb_path == s.duckdb_path
    assert [f.target.code for f in s.funds()] == ["DEMO", "SECOND"]
    assert [f.target.code for f in s.funds(["SECOND", "SECOND"])] == ["SECOND"]


def test_single_target_keeps_working(tmp_path):
    s = settings_of(tmp_path, "target: {code: ONE, isins: [LU000DEMO015]}\n")
    assert s.fund_codes == ("ONE",) and s.for_fund("ONE") == s


@pytest.mark.parametrize("text, message", [
    (TWO.replace("code: SECOND", "code: DEMO"), "fund code DEMO appears more than once"),
    ("target: {code: A, isins: [LU000DEMO015]}\ntargets: [{code: B, isins: [LU000DEMO015]}]\n",
     "give either 'target' or 'targets', not both"),
    ("targets: []\n", "'targets' must be a non-empty list"),
    ("targets: [{code: b, isins: [LU000DEMO015]}]\n", "targets[0]: target.code must match"),
])
def test_bad_targets(tmp_path, text, message):
    with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        settings_of(tmp_path, text)


def test_unknown_fund(tmp_path):
    with pytest.raises(BadInput, match=r"^--fund: no fund 'NOPE' in FA_CONFIG \(funds: DEMO, SECOND\)$"):
        settings_of(tmp_path, TWO).for_fund("NOPE")


def run(*args):
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.output.strip().splitlines()[-1]


@pytest.mark.parametrize("args", [
    ["score", "--fund", "NOPE"], ["qc", "--fund", "DEMO", "--fund", "NOPE"], ["daily", "--fund", "NOPE"],
    ["backfill", "--fund", "NOPE", "--months", "1"], ["train", "--fund", "NOPE", "--train-start", "2025-01-01",
     "--train-end", "2025-03-01", "--test-start", "2025-03-02", "--test-end", "2025-04-01"],
    ["registry", "list", "--fund", "NOPE"], ["report", "--fund", "NOPE"],
    ["eval", "--fund", "NOPE", "--start", "2025-01-01", "--end", "2025-02-01"],
])
def test_cli_unknown_fund_is_one_error_line(two_funds, args):
    assert run(*args) == (2, "Error: --fund: no fund 'NOPE' in FA_CONFIG (funds: DEMO, SECOND)")


@pytest.mark.parametrize("args", [["registry", "list"], ["registry", "rollback"], ["train", "--train-start",
                         "2025-01-01", "--train-end", "2025-03-01", "--test-start", "2025-03-02", "--test-end", "2025-04-01"]])
def test_one_fund_commands_ask_for_it(two_funds, args):
    assert run(*args) == (2, "Error: FA_CONFIG holds several funds (DEMO, SECOND): choose one with --fund CODE")
    assert run(*args, "--fund", "DEMO", "--fund", "SECOND") == (
        2, "Error: --fund: this command runs for one fund at a time (give --fund once)")


def test_report_out_needs_one_fund(two_funds, tmp_path):
    assert run("report", "--out", str(tmp_path / "r.html")) == (2, "Error: --out names one file: give one --fund with it")


def test_train_horizons_are_the_chosen_funds(two_funds):
    code, line = run("train", "--fund", "SECOND", "--horizons", "7,14", "--train-start", "2024-10-25",
                     "--train-end", "2025-06-10", "--test-start", "2025-06-11", "--test-end", "2025-07-21")
    assert (code, line) == (2, "Error: --horizons: 14 not configured (FA_CONFIG target.horizons: 7, 30)")


def test_score_runs_every_fund_and_names_the_failing_one(two_funds):
    # no FA database: every fund fails with exit 3; the first is the Error line, naming its fund
    r = CliRunner().invoke(cli, ["score", "--date", "2025-08-20"])
    lines = r.output.strip().splitlines()
    assert r.exit_code == 3
    assert lines[-1].startswith("Error: fund DEMO: ")
    assert any(line.startswith("Error: fund SECOND: ") for line in lines[:-1])


def test_daily_steps_per_fund(two_funds, tmp_path, monkeypatch):
    """One dbt step per fund (the later ones only their own models), then score and qc per
    fund; a QC alert of the first fund does not stop the second, the run ends with it."""
    calls = tmp_path / "calls.txt"
    script = tmp_path / "fake_orchestrate.py"
    script.write_text(
        "import sys\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.exit(5 if sys.argv[1] == 'qc' and 'DEMO' in sys.argv else 0)\n")
    monkeypatch.setattr(runner, "ORCHESTRATE", script)
    monkeypatch.setattr(runner, "STEPS", (str(script),))
    with pytest.raises(runner.StepFailed) as exc:
        runner.daily(load_settings(), date(2025, 8, 20))
    assert exc.value.exit_code == 5 and exc.value.step == "qc DEMO"
    d = "--date 2025-08-20"
    assert calls.read_text().splitlines() == [
        f"dbt {d} --fund DEMO", f"dbt --fund-models-only {d} --fund SECOND",
        f"score {d} --fund DEMO", f"qc {d} --fund DEMO", f"score {d} --fund SECOND", f"qc {d} --fund SECOND",
    ]
    calls.unlink()
    out = runner.daily(load_settings(), date(2025, 8, 20), ["SECOND"])  # one fund: all its models
    assert calls.read_text().splitlines() == [f"dbt {d} --fund SECOND", f"score {d} --fund SECOND",
                                              f"qc {d} --fund SECOND"]
    assert set(out) == {"date", "dbt_seconds", "score_seconds", "qc_seconds"}


def test_daily_stops_at_a_failed_dbt_step(two_funds, tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    script = tmp_path / "fake_orchestrate.py"
    script.write_text("import sys\n"
                      f"open({str(calls)!r}, 'a').write(sys.argv[1] + '\\n')\n"
                      "sys.exit(4 if sys.argv[1] == 'dbt' else 0)\n")
    monkeypatch.setattr(runner, "ORCHESTRATE", script)
    monkeypatch.setattr(runner, "STEPS", (str(script),))
    with pytest.raises(runner.StepFailed) as exc:
        runner.daily(load_settings(), date(2025, 8, 20))
    assert exc.value.exit_code == 4 and calls.read_text().splitlines() == ["dbt"]


def test_applock_names():
    assert applock_names(["SECOND", "DEMO"]) == [
        "first_buy_pipeline", "first_buy_pipeline_DEMO", "first_buy_pipeline_SECOND"]
    assert applock_names(["DEMO"], shared=False) == ["first_buy_pipeline_DEMO"]
