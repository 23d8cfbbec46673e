"""The daily runner and the demo: steps run one after the other, each a child process.

A step is a command of orchestrate.py (``python orchestrate.py score ...``) or, for the
daily's dbt step, which is no command of its own, a step of ml/steps.py (``python -m
ml.steps dbt ...``), with the same interpreter. So a step that hangs can be stopped at
its time limit, a crash in one step cannot leave another half-done in the same process,
and every step gets a fresh database connection. The parent holds the pipeline lock; the
children inherit it (ml/lock.py). A step's exit code is passed on unchanged; a step past
its time limit is killed and the run ends with exit code 7 (docs/operations.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from typing import Any, Mapping, Sequence

import pandas as pd

from ml.config import PROJECT_ROOT, Settings
from ml.dataset import min_training_days
from ml.log import log
from ml.errors import DataError, FAError, StepTimeout, EXIT_QC_ALERT, EXIT_UNEXPECTED

# What a child runs after the interpreter: a command of orchestrate.py (default), or a step
# of the library (STEPS, ml/steps.py). Tests replace either by a fake script.
ORCHESTRATE = PROJECT_ROOT / "orchestrate.py"
STEPS = ("-m", "ml.steps")
TEST_DAYS = 60          # demo: the out-of-time test window (label-complete days of the longest horizon)
WARM_UP_DAYS = 90       # demo: first days left out of training (90-day features still filling up)


class StepFailed(FAError):
    """A child step ended with a non-zero exit code; the runner exits with the same code.

    A QC step's alerts end the run with the child's own Error line (``detail``: the alerts
    by name), so the last line of ``daily`` says what QC found.
    """

    def __init__(self, step: str, code: int, detail: str | None = None) -> None:
        if code < 0:  # killed by a signal (kill -9, OOM killer): no exit code of its own
            super().__init__(f"step '{step}' was killed by signal {-code}; rerun the same command")
            self.exit_code = EXIT_UNEXPECTED
        elif code == EXIT_QC_ALERT and detail:
            super().__init__(detail)
            self.exit_code = code
        else:
            what = "raised QC alerts" if code == EXIT_QC_ALERT else "failed"
            super().__init__(f"step '{step}' {what} (exit code {code}); see its output above")
            self.exit_code = code
        self.step = step


# A step killed by the time limit (or by the OS) leaves multiprocessing's resource tracker
# behind, which then warns about the semaphores it cleans up, on the shared stderr and
# after this runner's own final "Error: ..." line. The warning says nothing the error
# line does not; it is filtered in the children (their tracker inherits the filter).
TRACKER_WARNING = "ignore::UserWarning:multiprocessing.resource_tracker"


def step_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a step: ours, plus the filter for the resource tracker's warning."""
    env = dict(environ)
    filters = [f for f in env.get("PYTHONWARNINGS", "").split(",") if f]
    if TRACKER_WARNING not in filters:
        filters.append(TRACKER_WARNING)
    env["PYTHONWARNINGS"] = ",".join(filters)
    return env


def run_step(step: str, args: Sequence[str], timeout: float | None,
             program: Sequence[str] | None = None) -> float:
    """Run ``python orchestrate.py <args>`` (or ``python <program> <args>``) as a child;
    return its seconds.

    Output of the child goes straight to this process's stdout/stderr. Raises StepTimeout
    (the child is killed) or StepFailed (the child's exit code). Inside a logged command
    the step's FA_RUN_LOG row is written here, whatever the outcome (ml/runlog.py).
    """
    import tempfile

    from ml import runlog
    from ml.registry import utc_now

    prefix = [str(ORCHESTRATE)] if program is None else list(program)
    shown = ORCHESTRATE.name if program is None else " ".join(["python", *prefix])
    cmd = [sys.executable, *prefix, *map(str, args)]
    env = step_env(os.environ)
    fd, report = tempfile.mkstemp(prefix="fa_step_", suffix=".json")
    os.close(fd)
    env[runlog.REPORT_ENV] = report
    limit = f" (time limit {int(timeout)} s)" if timeout else ""
    log(f"==> {step}: {shown} {' '.join(map(str, args))}{limit}")
    started, t0 = utc_now(), time.monotonic()
    sys.stdout.flush()
    try:
        try:
            proc = subprocess.run(cmd, timeout=timeout, cwd=str(PROJECT_ROOT), env=env)
        except subprocess.TimeoutExpired:  # subprocess.run has killed the child already
            exc = StepTimeout(
                f"step '{step}' exceeded its time limit of {int(timeout)} s and was stopped; "
                "rerun, or raise timeouts_seconds." + step + " in FA_CONFIG"
            )
            runlog.step_row(step, started, time.monotonic() - t0, exc.exit_code, {}, str(exc))
            raise exc from None
        seconds = time.monotonic() - t0
        facts = runlog.read_report(report)
    finally:
        os.unlink(report)
    failure = StepFailed(step, proc.returncode, facts.get("message")) if proc.returncode != 0 else None
    runlog.step_row(step, started, seconds, failure.exit_code if failure else 0, facts,
                    facts.get("message") or (str(failure) if failure else None))
    if failure is not None:
        # the duration of a failed step too: a QC alert (exit 5) ends a run that did its work
        log(f"<== {step}: exit {failure.exit_code} in {seconds:.1f} s")
        raise failure
    log(f"<== {step}: ok in {seconds:.1f} s")
    return seconds


def daily(settings: Settings, day: date | None = None,
          funds: Sequence[str] = ()) -> dict[str, Any]:
    """dbt build of the day -> score -> qc, each with its time limit; returns step seconds.

    Several funds (``funds``, default every fund of FA_CONFIG): one dbt step per fund, the
    first building the shared models too, the others only their own (``--fund-models-only``);
    then score and qc per fund. A failed dbt step ends the run; a failed score or qc of one
    fund skips the rest of that fund only, and the run ends with the first failure.
    """
    codes = list(dict.fromkeys(funds or settings.fund_codes))
    if day is None:
        from ml.pipeline import data_horizon

        day = data_horizon(settings)
    d = day.isoformat()
    several = len(codes) > 1

    def step(name: str, code: str, args: list[str]) -> tuple[str, str, list[str]]:
        return name, (f"{name} {code}" if several else name), [*args, "--date", d, "--fund", code]

    dbt_steps = [step("dbt", c, ["dbt", *(["--fund-models-only"] if i else [])])
                 for i, c in enumerate(codes)]
    out: dict[str, Any] = {"date": d}

    def run(kind: str, label: str, args: list[str], program: Sequence[str] | None = None) -> None:
        seconds = run_step(label, args, settings.timeouts.get(kind), program)
        out[f"{label.replace(' ', '_')}_seconds"] = round(seconds, 1)

    for kind, label, args in dbt_steps:  # ml/steps.py: the dbt step is no command
        run(kind, label, args, STEPS)
    first: FAError | None = None
    for code in codes:
        try:
            for kind in ("score", "qc"):
                run(*step(kind, code, [kind]))
        except FAError as exc:
            if not several:
                raise
            if first is None:
                first = exc
            else:
                log(f"Error: {exc}")
    if first is not None:
        raise first
    return out


def demo_windows(first: date, horizon_date: date, longest: int) -> dict[str, date]:
    """Training and test windows derived from the data (pure).

    Test: the last TEST_DAYS days whose longest-horizon label is complete; training: from
    WARM_UP_DAYS after the first Score_Date (when that leaves enough days) to the day
    before the test.
    """
    test_end = horizon_date - timedelta(days=longest)
    test_start = test_end - timedelta(days=TEST_DAYS - 1)
    train_end = test_start - timedelta(days=1)
    need = min_training_days(longest)  # 28 fit days + one purge gap + calibration, at least
    train_start = first + timedelta(days=WARM_UP_DAYS)
    if (train_end - train_start).days + 1 < need + 60:
        train_start = first
    if (train_end - train_start).days + 1 < need:
        raise DataError(
            f"the data ({first} .. {horizon_date}) is too short for a demo training window: "
            "use more --days"
        )
    return {"train_start": train_start, "train_end": train_end,
            "test_start": test_start, "test_end": test_end}


def _demo_facts(settings: Settings) -> tuple[date, date, date]:
    from ml.dataset import label_horizon, score_date_range
    from ml.db import open_target

    with open_target(settings, read_only=True) as db:
        first, last = score_date_range(db, settings)
        horizon_date = label_horizon(db, settings, settings.target.horizons)
    if horizon_date is None:
        raise DataError("the backfill produced no labelled rows: use more --depots or --days")
    return first, last, horizon_date


def demo_summary(settings: Settings, day: date) -> list[dict[str, Any]]:
    """Per horizon: active version, test AP, base rate, Lift@1 %, rows scored on ``day``."""
    from ml.db import open_target
    from ml import registry

    with open_target(settings, read_only=True) as db:
        models = registry.list_models(db, settings.target.code)
        scored = db.query_df(
            f"SELECT COUNT(*) AS n FROM dbo.{settings.scores_table} WHERE Score_Date = ?", [day]
        ).iloc[0]["n"] if db.table_exists(settings.scores_table) else 0
    rows = []
    for _, m in models[models["Is_Active"] == 1].sort_values("Horizon").iterrows():
        rows.append({"horizon": f"T{int(m['Horizon'])}", "version": m["Version"],
                     "ap": m["Test_AP"], "base_rate": m["Test_Base_Rate"],
                     "lift_at_1": m["Test_Lift_At_1"], "test_rows": int(m["Test_Rows"]),
                     "rows_scored": int(scored)})
    return rows


def demo(settings: Settings, depots: int, days: int, seed: int, end_date: date,
         n_boot: int = 200) -> tuple[list[dict[str, Any]], dict[str, Any], FAError | None]:
    """demo world -> backfill -> train -> score -> eval -> qc -> report (its path in the facts).

    Returns (summary rows per horizon, facts, the QC alert or None): a QC alert does not
    stop the demo before its summary; the caller reports it afterwards.
    """
    t0 = time.monotonic()
    first_day = end_date - timedelta(days=days - 1)
    run_step("demo-data", ["demo-data", "--depots", depots, "--days", days, "--seed", seed,
                           "--end-date", end_date.isoformat()], None)
    fund = ["--fund", settings.target.code]  # the steps run for the demo's fund only
    run_step("backfill", ["backfill", *fund, "--start-date", first_day.isoformat(),
                          "--end-date", end_date.isoformat()], None)
    first, last, horizon_date = _demo_facts(settings)
    # The world's own first day: an FA database reused from a longer earlier demo keeps
    # older aggregate days, which must not widen the training window.
    w = demo_windows(max(first, first_day), horizon_date, max(settings.target.horizons))
    horizons = ",".join(map(str, settings.target.horizons))
    run_step("train", ["train", *fund, "--horizons", horizons, "--n-boot", n_boot,
                       *[x for k, v in w.items() for x in (f"--{k.replace('_', '-')}", v.isoformat())]], None)
    run_step("score", ["score", *fund, "--date", last.isoformat()], None)
    run_step("eval", ["eval", *fund, "--horizons", horizons, "--start", w["test_start"].isoformat(),
                      "--end", horizon_date.isoformat(), "--n-boot", 0], None)
    alert = None
    try:
        run_step("qc", ["qc", *fund, "--date", last.isoformat()], None)
    except StepFailed as exc:
        if exc.exit_code != EXIT_QC_ALERT:
            raise
        alert = exc
    from ml.report_html import default_path

    report = default_path(settings, last)
    run_step("report", ["report", *fund, "--date", last.isoformat(), "--out", str(report)], None)
    facts = {"score_date": last.isoformat(), "data_horizon": horizon_date.isoformat(),
             **{k: v.isoformat() for k, v in w.items()},
             "seconds": round(time.monotonic() - t0, 1), "report": str(report)}
    return demo_summary(settings, last), facts, alert
