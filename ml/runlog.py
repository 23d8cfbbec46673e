"""FA_RUN_LOG: one row per command and per step of ``daily``, even when it fails.

A writing command of orchestrate.py runs inside :func:`command` (with the pipeline lock).
Library code reports what it did with :func:`note` (rows written, model versions, dbt's
node results); when the command ends, however it ends, one row is written with
Step = '-', its exit code and its message.

A step of ``daily`` (or of ``demo``) is a child process: the parent runner writes the
step's row itself (:func:`step_row`), so a step that crashes, is killed or runs past its
time limit still gets one, with the exit code the runner passes on. The child reports its
facts to the parent through a small JSON file named by ``FA_STEP_REPORT`` instead of
writing a row of its own. A daily's steps share its Run_Id; its own row sums their facts.

Rows are written only into an FA database that exists (a command that fails before
anything was created leaves no trace but its Error line) and a failure to write the log
never changes a command's outcome (it is reported on stderr).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

from ml.config import Settings

RUN_LOG = "FA_RUN_LOG"
COLUMNS = [
    ("Run_Id", "varchar(40)"), ("Target_Code", "varchar(20)"), ("Command", "varchar(40)"),
    ("Step", "varchar(40)"), ("Started_Utc", "timestamp"), ("Ended_Utc", "timestamp"),
    ("Seconds", "float"), ("Exit_Code", "int"), ("Rows_Written", "bigint"),
    ("Model_Versions", "varchar(4000)"), ("Dbt_Summary", "varchar(4000)"), ("Message", "varchar(4000)"),
]
REPORT_ENV = "FA_STEP_REPORT"
TEXT_MAX = 4000


def _utc_now() -> datetime:
    from ml.registry import utc_now

    return utc_now()


def new_run_id(now: datetime) -> str:
    """Sortable and unique: UTC time to the millisecond plus 8 random hex digits."""
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{secrets.token_hex(4)}"


@dataclass
class Record:
    """What one command did so far."""

    settings: Settings
    command: str
    run_id: str
    started: datetime
    t0: float
    rows_written: int | None = None
    model_versions: dict[str, str] = field(default_factory=dict)
    dbt: Counter = field(default_factory=Counter)

    def add(self, rows_written: int | None = None, model_versions: Mapping[str, str] | None = None,
            dbt_results: Sequence[Mapping[str, Any]] | None = None,
            dbt_summary: Mapping[str, int] | None = None) -> None:
        if rows_written is not None:
            self.rows_written = (self.rows_written or 0) + int(rows_written)
        self.model_versions.update({str(k): str(v) for k, v in (model_versions or {}).items()})
        self.dbt.update(str(r["status"]) for r in dbt_results or ())
        self.dbt.update({str(k): int(v) for k, v in (dbt_summary or {}).items()})

    def facts(self) -> dict[str, Any]:
        return {"rows_written": self.rows_written, "model_versions": self.model_versions,
                "dbt_summary": dict(self.dbt)}


_current: Record | None = None


def current() -> Record | None:
    return _current


def note(**facts: Any) -> None:
    """Add facts to the running command's record (no-op outside a command)."""
    if _current is not None:
        _current.add(**facts)


def _text(value: Any) -> str | None:
    if value is None or value == {} or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text[:TEXT_MAX]


def make_row(settings: Settings, run_id: str, command_name: str, step: str, started: datetime,
             seconds: float, exit_code: int, facts: Mapping[str, Any], message: str | None) -> dict[str, Any]:
    from datetime import timedelta

    return {
        "Run_Id": run_id, "Target_Code": settings.target.code, "Command": command_name[:40],
        "Step": step[:40], "Started_Utc": started, "Ended_Utc": started + timedelta(seconds=seconds),
        "Seconds": round(float(seconds), 3), "Exit_Code": int(exit_code),
        "Rows_Written": facts.get("rows_written"), "Model_Versions": _text(facts.get("model_versions")),
        "Dbt_Summary": _text(facts.get("dbt_summary")), "Message": _text(message),
    }


def write_rows(settings: Settings, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append rows to FA_RUN_LOG (skipped when the embedded FA database does not exist)."""
    if settings.engine == "duckdb" and not settings.duckdb_path.exists():
        return
    try:
        import pandas as pd

        from ml.db import open_target

        with open_target(settings) as db:
            db.ensure_table(RUN_LOG, COLUMNS)
            db.append_rows(RUN_LOG, pd.DataFrame(list(rows), columns=[c for c, _ in COLUMNS]))
    except Exception as exc:  # the log must never turn a result into a failure
        print(f"run log: could not write {RUN_LOG}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def exit_code_of(exc: BaseException | None) -> tuple[int, str | None]:
    """The exit code and message a command's edge gives an exception (0 for none)."""
    from ml.errors import FAError, failure

    if exc is None:
        return 0, None
    code = getattr(exc, "exit_code", None)  # click exceptions
    if not isinstance(exc, FAError) and isinstance(code, int):
        return code, str(exc) or None
    return failure(exc)


@contextmanager
def command(settings: Settings, name: str) -> Iterator[Record]:
    """Run a command under a record; write its row (or report it to the parent) at the end."""
    global _current
    started = _utc_now()
    rec = Record(settings, name, new_run_id(started), started, time.monotonic())
    previous, _current = _current, rec
    error: BaseException | None = None
    try:
        yield rec
    except BaseException as exc:
        error = exc
        raise
    finally:
        _current = previous
        code, message = exit_code_of(error)
        seconds = time.monotonic() - rec.t0
        report = os.environ.get(REPORT_ENV)
        if report:  # a step of daily/demo: the parent writes the row
            try:
                with open(report, "w", encoding="utf-8") as fh:
                    json.dump({**rec.facts(), "exit_code": code, "message": message}, fh)
            except OSError:
                pass
        else:
            write_rows(settings, [make_row(settings, rec.run_id, name, "-", started, seconds, code,
                                           rec.facts(), message)])


def read_report(path: str) -> dict[str, Any]:
    """The facts a child step reported ({} when it wrote none: killed, timed out, no command)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def step_row(step: str, started: datetime, seconds: float, exit_code: int,
             facts: Mapping[str, Any], message: str | None) -> None:
    """Write the row of one child step of the running command and add its facts to it."""
    rec = _current
    if rec is None:
        return
    rec.add(rows_written=facts.get("rows_written"), model_versions=facts.get("model_versions"),
            dbt_summary=facts.get("dbt_summary"))
    write_rows(rec.settings, [make_row(rec.settings, rec.run_id, rec.command, step, started, seconds,
                                       exit_code, facts, message)])
