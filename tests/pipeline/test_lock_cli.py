"""One writer at a time, through the CLI: every writing command refuses to start while
another process holds the pipeline lock (exit 6, one exact Error line, nothing touched),
and checks its inputs before it even looks at the lock (exit 2 stays exit 2)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrate import cli

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import synthetic_world  # noqa: E402

TRAIN = ["train", "--horizons", "7,14,30", "--train-start", "2024-10-25", "--train-end", "2025-06-10",
         "--test-start", "2025-06-11", "--test-end", "2025-07-21", "--n-estimators", "20", "--n-boot", "0"]
WRITERS = {
    "daily": ["daily", "--date", "2025-08-20"],
    "backfill": ["backfill", "--start-date", "2025-08-01", "--end-date", "2025-08-20"],
    "train": TRAIN,
    "score": ["score", "--date", "2025-08-20"],
    "eval": ["eval", "--horizons", "7", "--start", "2025-06-01", "--end", "2025-07-01"],
    "qc": ["qc", "--date", "2025-08-20"],
    "registry promote": ["registry", "promote", "20250101T000000Z-abcdef"],
    "registry rollback": ["registry", "rollback"],
    "demo": ["demo", "--depots", "50", "--days", "300"],
}


def _digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` except the lock file itself."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An FA database with aggregate and label tables (no dbt needed)."""
    root = tmp_path_factory.mktemp("lockworld")
    synthetic_world.write_tables(root / "fa.duckdb", depots=40, days=300)
    return root


@pytest.fixture(scope="module")
def holder(world):
    """A real second process holding the lock (as a running `daily` would)."""
    code = textwrap.dedent(f"""
        import time
        from ml.config import load_settings
        from ml.lock import pipeline_lock
        s = load_settings({{"FA_DUCKDB_PATH": {str(world / 'fa.duckdb')!r}}})
        with pipeline_lock(s, "daily"):
            print("LOCKED", flush=True)
            time.sleep(600)
    """)
    env = {k: v for k, v in os.environ.items() if k != "FA_LOCK_OWNER_PID"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "LOCKED"
        info = json.loads((world / "fa.duckdb.lock").read_text())
        yield proc, info
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture
def env(world, monkeypatch):
    monkeypatch.setenv("FA_DUCKDB_PATH", str(world / "fa.duckdb"))
    monkeypatch.setenv("FA_ART_DIR", str(world / "artifacts"))
    monkeypatch.setenv("FA_SOURCE_DB", str(world / "src.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(world / "dbt_target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(world / "dbt_logs"))
    monkeypatch.delenv("FA_CONFIG", raising=False)
    monkeypatch.delenv("FA_LOCK_OWNER_PID", raising=False)
    return world


def expected_line(world: Path, info: dict) -> str:
    return (f"Error: another pipeline run holds the lock {world / 'fa.duckdb.lock'} "
            f"(pid {info['pid']}, 'daily' since {info['since']}); wait for it to finish, then rerun")


@pytest.mark.parametrize("command", list(WRITERS))
def test_every_writer_exits_6_and_touches_nothing(env, holder, command):
    proc, info = holder
    before = _digest(env)
    result = CliRunner().invoke(cli, WRITERS[command])
    assert result.exit_code == 6, result.output
    assert result.output.strip().splitlines()[-1] == expected_line(env, info)
    assert _digest(env) == before
    assert proc.poll() is None  # the holder was not disturbed


def test_the_dbt_step_exits_6_and_touches_nothing(env, holder, capsys):
    """The daily's dbt step (python -m ml.steps dbt) takes the same lock as the commands."""
    from ml.steps import main

    proc, info = holder
    before = _digest(env)
    assert main(["dbt", "--date", "2025-08-20", "--fund", "DEMO"]) == 6
    assert capsys.readouterr().err.strip().splitlines()[-1] == expected_line(env, info)
    assert _digest(env) == before
    assert proc.poll() is None


@pytest.mark.parametrize("args, line", [
    (["score", "--date", "2025-02-30"], "Error: --date: '2025-02-30' is not a date (expected YYYY-MM-DD)"),
    (["qc", "--date", "x"], "Error: --date: 'x' is not a date (expected YYYY-MM-DD)"),
    (["eval", "--horizons", "7,x", "--start", "2025-06-01", "--end", "2025-07-01"],
     "Error: --horizons: 'x' is not a horizon between 1 and 365 days"),
    (["eval", "--horizons", "7", "--start", "2025-07-01", "--end", "2025-06-01"],
     "Error: --start must not be after --end"),
    (TRAIN[:2] + ["7,60"] + TRAIN[3:],
     "Error: --horizons: 60 not configured (FA_CONFIG target.horizons: 7, 14, 30)"),
    (["backfill", "--start-date", "2025-08-20", "--end-date", "2025-08-01"],
     "Error: --end-date 2025-08-01 is before --start-date 2025-08-20"),
    (["daily", "--date", "20250820"], "Error: --date: '20250820' is not a date (expected YYYY-MM-DD)"),
])
def test_bad_input_is_reported_before_the_lock(env, holder, args, line):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == line


def test_a_real_second_process_exits_6(env, holder):
    proc, info = holder
    run_env = {k: v for k, v in os.environ.items() if k != "FA_LOCK_OWNER_PID"}
    out = subprocess.run([sys.executable, "orchestrate.py", "score"], cwd=ROOT, env=run_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 6
    assert out.stderr.strip().splitlines()[-1] == expected_line(env, info)
    assert out.stdout == ""


def test_fa_database_open_in_another_process_is_exit_6(tmp_path, monkeypatch):
    """A reader (registry list) or a writer whose lock is free while a SQL client holds the
    DuckDB file open: exit 6 with the holder's pid, not an unexpected error."""
    synthetic_world.write_tables(tmp_path / "fa.duckdb", depots=10, days=60)
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    monkeypatch.setenv("FA_ART_DIR", str(tmp_path / "artifacts"))
    monkeypatch.delenv("FA_CONFIG", raising=False)
    monkeypatch.delenv("FA_LOCK_OWNER_PID", raising=False)
    code = textwrap.dedent(f"""
        import time, duckdb
        con = duckdb.connect({str(tmp_path / 'fa.duckdb')!r})
        print("OPEN", flush=True)
        time.sleep(600)
    """)
    client = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout.readline().strip() == "OPEN"
        for args in (["registry", "list"], ["score", "--date", "2025-08-20"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 6, result.output
            assert result.output.strip().splitlines()[-1] == (
                f"Error: the FA database {tmp_path / 'fa.duckdb'} is open in another process "
                f"(pid {client.pid}); wait for it to finish (or close it), then rerun")
    finally:
        client.kill()
        client.wait(timeout=30)
    assert CliRunner().invoke(cli, ["registry", "list"]).exit_code == 0
