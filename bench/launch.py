"""Run one command as the child of a small process and report its own peak RSS and CPU.

``python -m bench.launch REPORT.json CMD [ARGS...]``: runs CMD, waits for it, writes
{"maxrss_kb", "user_s", "sys_s"} of CMD and everything it waited for to REPORT.json, and
exits with CMD's exit code (128 + N when a signal N ended it).

Why: Linux carries a process's peak RSS across fork and exec into the child's
``ru_maxrss``, so a child started by the bench process (which had just copied worlds with
DuckDB) reported at least the bench's own size. Started from this launcher (a fresh
interpreter of ~10 MB), the figure is the command's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    """Run argv[1:], write its resource usage to argv[0]; the child's exit code."""
    if len(argv) < 2:
        print("usage: python -m bench.launch REPORT.json CMD [ARGS...]", file=sys.stderr)
        return 2
    report, cmd = argv[0], argv[1:]
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    with open(report, "w") as f:
        json.dump({"maxrss_kb": usage.ru_maxrss, "user_s": round(usage.ru_utime, 2),
                   "sys_s": round(usage.ru_stime, 2)}, f)
    code = proc.returncode
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
