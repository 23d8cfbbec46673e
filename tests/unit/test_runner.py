"""The daily runner: child steps, time limits (exit 7), exit codes passed on; demo windows."""

from datetime import date

import pytest
from click.testing import CliRunner

from ml import runner
from ml.errors import DataError, StepTimeout
from orchestrate import cli


@pytest.fixture
def fake_orchestrate(tmp_path, monkeypatch):
    """Replace orchestrate.py and ml/steps.py for the children by a script whose behaviour
    the test picks."""
    def make(body: str):
        script = tmp_path / "fake_orchestrate.py"
        script.write_text("import sys, time\n" + body + "\n")
        monkeypatch.setattr(runner, "ORCHESTRATE", script)
        monkeypatch.setattr(runner, "STEPS", (str(script),))
        return script
    return make


def test_step_past_its_time_limit_is_killed(fake_orchestrate):
    fake_orchestrate("time.sleep(30)")
    with pytest.raises(StepTimeout, match="step 'score' exceeded its time limit of 1 s"):
        runner.run_step("score", ["score"], timeout=1)


def test_child_exit_code_is_passed_on(fake_orchestrate, capsys):
    fake_orchestrate("sys.exit(3 if sys.argv[1] == 'score' else 0)")
    with pytest.raises(runner.StepFailed) as exc:
        runner.run_step("score", ["score"], timeout=10)
    assert exc.value.exit_code == 3
    assert runner.run_step("qc", ["qc"], timeout=10) >= 0
    # each step's duration is logged, whatever its outcome
    done = [line.rsplit(" in ", 1)[0] for line in capsys.readouterr().err.splitlines()
            if line.startswith("<== ")]
    assert done == ["<== score: exit 3", "<== qc: ok"]


def test_child_killed_by_a_signal_is_exit_1(fake_orchestrate):
    fake_orchestrate("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    with pytest.raises(runner.StepFailed, match="step 'score' was killed by signal 9; rerun") as exc:
        runner.run_step("score", ["score"], timeout=10)
    assert exc.value.exit_code == 1


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    monkeypatch.setenv("FA_ART_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "src.duckdb"))
    config = tmp_path / "fund.yml"
    config.write_text(
        "target:\n  code: DEMO\n  isins: [LU000DEMO015]\n"
        "timeouts_seconds:\n  dbt: 5\n  score: 1\n  qc: 5\n", encoding="utf-8")
    monkeypatch.setenv("FA_CONFIG", str(config))
    return tmp_path


def test_daily_cli_exit_codes(env, fake_orchestrate):
    fake_orchestrate("time.sleep(30) if sys.argv[1] == 'score' else None")
    r = CliRunner().invoke(cli, ["daily", "--date", "2025-08-20"])
    assert r.exit_code == 7
    assert r.output.strip().splitlines()[-1] == (
        "Error: step 'score' exceeded its time limit of 1 s and was stopped; rerun, "
        "or raise timeouts_seconds.score in FA_CONFIG")

    fake_orchestrate("sys.exit(5 if sys.argv[1] == 'qc' else 0)")
    r = CliRunner().invoke(cli, ["daily", "--date", "2025-08-20"])
    assert r.exit_code == 5
    assert r.output.strip().splitlines()[-1] == \
        "Error: step 'qc' raised QC alerts (exit code 5); see its output above"

    fake_orchestrate("sys.exit(4 if sys.argv[1] == 'dbt' else 0)")
    r = CliRunner().invoke(cli, ["daily", "--date", "2025-08-20"])
    assert r.exit_code == 4
    assert r.output.strip().splitlines()[-1] == \
        "Error: step 'dbt' failed (exit code 4); see its output above"


def test_daily_bad_date_is_exit_2(env):
    r = CliRunner().invoke(cli, ["daily", "--date", "20.08.2025"])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1] == \
        "Error: --date: '20.08.2025' is not a date (expected YYYY-MM-DD)"


def test_demo_windows_from_the_data():
    w = runner.demo_windows(date(2023, 8, 21), date(2025, 8, 20), 30)
    assert w == {"train_start": date(2023, 11, 19), "train_end": date(2025, 5, 22),
                 "test_start": date(2025, 5, 23), "test_end": date(2025, 7, 21)}
    with pytest.raises(DataError, match="too short"):
        runner.demo_windows(date(2025, 1, 1), date(2025, 8, 20), 30)


def test_steps_filter_the_resource_tracker_warning_and_keep_other_filters():
    from ml.runner import TRACKER_WARNING, step_env

    env = step_env({"PATH": "/bin", "PYTHONWARNINGS": "error::DeprecationWarning"})
    assert env["PATH"] == "/bin"
    assert env["PYTHONWARNINGS"].split(",") == ["error::DeprecationWarning", TRACKER_WARNING]
    assert step_env({})["PYTHONWARNINGS"] == TRACKER_WARNING
    assert step_env(env)["PYTHONWARNINGS"] == env["PYTHONWARNINGS"]   # added once


def test_the_dbt_step_runs_in_ml_steps_the_others_in_orchestrate(env, tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    for name, attr in (("orchestrate", "ORCHESTRATE"), ("steps", "STEPS")):
        script = tmp_path / f"fake_{name}.py"
        script.write_text(f"import sys\nopen({str(calls)!r}, 'a').write({name!r} + ' ' + sys.argv[1] + '\\n')\n")
        monkeypatch.setattr(runner, attr, script if attr == "ORCHESTRATE" else (str(script),))
    r = CliRunner().invoke(cli, ["daily", "--date", "2025-08-20"])
    assert r.exit_code == 0, r.output
    assert calls.read_text().splitlines() == ["steps dbt", "orchestrate score", "orchestrate qc"]


def test_the_real_step_entry_point_passes_its_exit_code_on(env, capfd):
    """python -m ml.steps as the runner starts it: a bad input is exit 2 and one Error line."""
    assert runner.STEPS == ("-m", "ml.steps")
    with pytest.raises(runner.StepFailed) as exc:
        runner.run_step("dbt", ["dbt", "--date", "20.08.2025", "--fund", "DEMO"], 60, runner.STEPS)
    assert exc.value.exit_code == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err[0].startswith("==> dbt: python -m ml.steps dbt --date 20.08.2025 --fund DEMO")
    assert err[-2] == "Error: --date: '20.08.2025' is not a date (expected YYYY-MM-DD)"  # the child's
    assert err[-1].startswith("<== dbt: exit 2 in ")  # then the runner's line for the step
