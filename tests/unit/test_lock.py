"""The pipeline lock: one writer at a time, released when the holder dies."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ml.config import load_settings
from ml.errors import LockHeld
from ml.lock import OWNER_ENV, lock_path, pipeline_lock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def settings(tmp_path):
    return load_settings({"FA_DUCKDB_PATH": str(tmp_path / "fa.duckdb")})


def _other_process_tries(tmp_path: Path) -> subprocess.CompletedProcess:
    code = textwrap.dedent(
        f"""
        from ml.config import load_settings
        from ml.errors import LockHeld
        from ml.lock import pipeline_lock
        s = load_settings({{"FA_DUCKDB_PATH": {str(tmp_path / 'fa.duckdb')!r}}})
        try:
            with pipeline_lock(s, "score"):
                print("GOT")
        except LockHeld as exc:
            print("HELD", exc)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != OWNER_ENV}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_second_writer_is_refused_while_held(settings, tmp_path):
    with pipeline_lock(settings, "backfill"):
        out = _other_process_tries(tmp_path)
        assert out.stdout.startswith("HELD another pipeline run holds the lock")
        assert "'backfill'" in out.stdout and f"pid {os.getpid()}" in out.stdout
    # released on exit: the other process now gets it
    assert _other_process_tries(tmp_path).stdout.strip() == "GOT"


def test_lock_is_released_when_the_holder_is_killed(settings, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from ml.config import load_settings
            from ml.lock import pipeline_lock
            s = load_settings({{"FA_DUCKDB_PATH": {str(tmp_path / 'fa.duckdb')!r}}})
            with pipeline_lock(s, "daily"):
                print("LOCKED", flush=True)
                time.sleep(120)
        """)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        with pytest.raises(LockHeld):
            with pipeline_lock(settings, "score"):
                pass
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with pipeline_lock(settings, "score"):
        assert lock_path(settings).exists()


def test_child_of_the_holder_inherits_the_lock(settings, tmp_path):
    with pipeline_lock(settings, "daily"):
        assert os.environ[OWNER_ENV] == str(os.getpid())
        code = textwrap.dedent(f"""
            from ml.config import load_settings
            from ml.lock import pipeline_lock
            s = load_settings({{"FA_DUCKDB_PATH": {str(tmp_path / 'fa.duckdb')!r}}})
            with pipeline_lock(s, "score"):
                print("CHILD OK")
        """)
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert out.stdout.strip() == "CHILD OK", out.stderr
    assert OWNER_ENV not in os.environ
