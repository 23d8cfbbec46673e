"""bench/launch.py reports the command's own peak RSS and CPU, and passes its exit code on."""

import json
import subprocess
import sys

from bench.run import measure

# A child that allocates about 200 MB, touches it, and exits with code 7.
ALLOC = "b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); raise SystemExit(7)"
SMALL = "pass"


def run_launch(tmp_path, code: str):
    report = tmp_path / "usage.json"
    rc = subprocess.call([sys.executable, "-m", "bench.launch", str(report), sys.executable, "-c", code])
    return rc, json.loads(report.read_text())


def test_exit_code_and_usage_of_the_child(tmp_path):
    rc, usage = run_launch(tmp_path, ALLOC)
    assert rc == 7
    assert usage["maxrss_kb"] > 200 * 1024          # the child's allocation is seen
    assert usage["user_s"] >= 0 and usage["sys_s"] >= 0


def test_rss_is_not_inherited_from_a_big_parent(tmp_path):
    # The parent holds ~300 MB when it starts the launcher; a small child must not report it.
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"y" * len(ballast[::4096])
    _, usage = run_launch(tmp_path, SMALL)
    assert usage["maxrss_kb"] < 150 * 1024
    del ballast


def test_measure_reports_the_child(tmp_path):
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"z" * len(ballast[::4096])
    r = measure([sys.executable, "-c", SMALL], env=None, out_dir=tmp_path, name="small",
                deadline=None)
    assert r["exit_code"] == 0 and r["rss_mb"] < 150 and r["cpu_seconds"] >= 0
    del ballast
