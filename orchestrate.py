"""First-Buy pipeline command line: a thin click shell over the ``ml`` package.

Each command parses its options, calls one library function and prints a summary to
stdout; progress goes to stderr. Expected failures end in one ``Error: ...`` line and the
exit code documented in README.md (see ml/errors.py).
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any, Callable

import click

from ml.config import TargetFund, default_of
from ml.errors import FAError, at_edge
from ml.lock import locked
from ml.report import summary_lines

# --horizons of train and eval: the default horizons of a fund (ml.config.TargetFund)
HORIZONS = ",".join(map(str, default_of(TargetFund, "horizons")))


class PipelineError(click.ClickException):
    """A ClickException carrying the domain exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def edge(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn domain exceptions into one ``Error:`` line and their exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # FAError, or a bug: one line unless FA_DEBUG asks for the trace
            code, message = at_edge(exc)
            raise PipelineError(message, code) from None

    return wrapper


def settings():
    """Load and validate configuration (FA_CONFIG + environment)."""
    from ml.config import load_settings

    return load_settings()


def fund_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--fund CODE (repeatable): the funds of FA_CONFIG to run for [every fund]."""
    return click.option("--fund", "funds", multiple=True, metavar="CODE",
                        help="Only this fund of FA_CONFIG (repeatable) [every fund].")(func)


def one_fund_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--fund CODE: the one fund a command runs for [the only fund of FA_CONFIG]."""
    return click.option("--fund", "funds", multiple=True, metavar="CODE",
                        help="The fund of FA_CONFIG [required when it holds several].")(func)


def fund_settings(codes: tuple[str, ...]) -> list[Any]:
    """The Settings of each chosen fund (every fund of FA_CONFIG when none is chosen)."""
    return settings().funds(codes)


def one_fund(codes: tuple[str, ...]) -> Any:
    """The Settings of the one fund chosen (or the only one); BadInput otherwise."""
    from ml.errors import BadInput

    cfg = settings()
    chosen = list(dict.fromkeys(codes))
    if len(chosen) > 1:
        raise BadInput("--fund: this command runs for one fund at a time (give --fund once)")
    if not chosen and len(cfg.fund_codes) > 1:
        raise BadInput(f"FA_CONFIG holds several funds ({', '.join(cfg.fund_codes)}): "
                       "choose one with --fund CODE")
    return cfg.for_fund(chosen[0]) if chosen else cfg


def each_fund(funds: list[Any], step: Callable[[Any], None]) -> None:
    """``step(cfg)`` for every fund; a failure of one fund does not stop the others.

    The first failure is raised at the end (its exit code; the message names the fund when
    there are several), the others are logged to stderr.
    """
    first: FAError | None = None
    for cfg in funds:
        try:
            step(cfg)
        except FAError as exc:
            if len(funds) == 1:
                raise
            exc.args = (f"fund {cfg.target.code}: {exc}",)
            if first is None:
                first = exc
            else:
                click.echo(f"Error: {exc}", err=True)
    if first is not None:
        raise first


def iso_date(what: str, text: str | None) -> date | None:
    from ml.config import parse_date

    return None if text is None else parse_date(text, what)


def hazard_profile(value: str) -> str:
    """--hazard-profile: a key of ml.demo.hazard.HAZARD_PROFILES (else a usage error)."""
    from ml.demo.hazard import HAZARD_PROFILES

    if value not in HAZARD_PROFILES:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(sorted(HAZARD_PROFILES))}",
                                 param_hint="'--hazard-profile'")
    return value


def echo_summary(rows: dict[str, Any]) -> None:
    """A short aligned key: value summary on stdout."""
    for line in summary_lines(rows):
        click.echo(line)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """First-Buy pipeline: demo world, dbt aggregates and labels, training, scoring, QC."""


@cli.command("demo-data")
@click.option("--depots", type=click.IntRange(1, 1_000_000), default=2000, show_default=True,
              help="Number of depots (accounts) in the demo world.")
@click.option("--days", type=click.IntRange(30, 3650), default=730, show_default=True,
              help="Number of calendar days of history.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--end-date", default="2025-08-20", show_default=True,
              help="Last business day of the demo world (YYYY-MM-DD).")
@click.option("--clean/--with-bad-rows", "clean", default=False, show_default=True,
              help="Leave out the bad rows of docs/rules.md §4 (the other mess stays).")
@click.option("--hazard-profile", default="default", show_default=True,
              callback=lambda ctx, param, value: hazard_profile(value),
              help="Weights of the planted first-buy hazard: default or alt (docs/demo_world.md).")
@edge
def demo_data_cmd(depots: int, days: int, seed: int, end_date: str, clean: bool,
                  hazard_profile: str) -> None:
    """Write a generated source world (docs/rules.md §0.2) into FA_SOURCE_DB (docs/demo_world.md)."""
    from ml.demo import generate

    summary = generate(settings(), depots=depots, days=days, seed=seed,
                       end_date=iso_date("--end-date", end_date), bad_rows=not clean,
                       hazard_profile=hazard_profile)
    echo_summary(summary)


@cli.command("backfill")
@click.option("--months", type=click.IntRange(1, 240), default=None,
              help="Recompute the last N months up to the data horizon.")
@click.option("--start-date", default=None, help="First Score_Date (YYYY-MM-DD).")
@click.option("--end-date", default=None, help="Last Score_Date (YYYY-MM-DD).")
@click.option("--chunk-months", type=click.IntRange(1, 240), default=None,
              help="Months per dbt run (default: as many as fit backfill.chunk_rows of FA_CONFIG).")
@fund_option
@edge
def backfill_cmd(months: int | None, start_date: str | None, end_date: str | None,
                 chunk_months: int | None, funds: tuple[str, ...]) -> None:
    """Recompute aggregates and labels for a range of Score_Dates with dbt (every fund).

    The first fund's run builds the models shared by all funds too; each further fund
    builds only its own (dbt tag `fund`). A dbt failure stops the backfill.
    """
    from ml.pipeline import backfill, resolve_backfill_range

    cfgs = fund_settings(funds)
    cfg = cfgs[0]
    start, end = resolve_backfill_range(
        cfg, months, iso_date("--start-date", start_date), iso_date("--end-date", end_date)
    )
    with locked(cfg, "backfill", cfgs, shared=True) as record:
        for i, fund_cfg in enumerate(cfgs):
            summary = backfill(fund_cfg, start, end, chunk_months, fund_only=i > 0)
            record.add(rows_written=summary["aggregate_rows"] + summary["label_rows"])
            echo_summary({"fund": fund_cfg.target.code, **summary})


TRAIN_COLUMNS = [
    ("horizon", "T", ""), ("version", "version", ""), ("test_rows", "test rows", ","),
    ("base_rate", "base rate", ".4f"), ("ap", "AP", ".4f"), ("ap_ci", "AP 95% CI", ".4f"),
    ("lift_at_1", "Lift@1%", ".2f"), ("ece", "ECE", ".4f"), ("best_iteration", "best it.", ""),
    ("train_seconds", "fit s", ".1f"), ("note", "registry", ""),
]


@cli.command("train")
@click.option("--horizons", default=HORIZONS, show_default=True, help="Comma-separated horizons in days.")
@click.option("--train-start", required=True, help="First Score_Date of the training window.")
@click.option("--train-end", required=True, help="Last Score_Date of the training window (its last 90 days calibrate).")
@click.option("--test-start", required=True, help="First Score_Date of the out-of-time test window.")
@click.option("--test-end", required=True, help="Last Score_Date of the test window.")
@click.option("--max-depth", type=click.IntRange(1, 32), default=None,
              help="Tree depth [default: ml.train.TrainParams].")
@click.option("--learning-rate", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Learning rate [default: ml.train.TrainParams].")
@click.option("--n-estimators", type=click.IntRange(1, 100_000), default=None,
              help="Upper bound on trees; early stopping picks the best iteration [default: ml.train.TrainParams].")
@click.option("--n-boot", type=click.IntRange(0, 10_000), default=200, show_default=True,
              help="Bootstrap draws for the 95 % intervals.")
@click.option("--promote", is_flag=True, help="Activate the new models even if they are worse.")
@click.option("--neg-sample-rate", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Keep this share of all-negative rows before the calibration part, weighted "
                   "(large data; docs/performance.md).")
@click.option("--depot-sample-rate", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Train, calibrate and test on this share of the depots (whole depots, no "
                   "weights; when even calibration and test exceed the memory: docs/performance.md).")
@click.option("--tune", is_flag=True,
              help="Choose each horizon's booster parameters by a small search on the fit and "
                   "early-stopping parts (docs/model.md, Tuning); the options above are trial 0.")
@click.option("--tune-trials", type=click.IntRange(1, 60), default=24, show_default=True,
              help="Trials of --tune.")
@one_fund_option
@edge
def train_cmd(horizons, train_start, train_end, test_start, test_end, max_depth, learning_rate,
              n_estimators, n_boot, promote, neg_sample_rate, depot_sample_rate, tune, tune_trials,
              funds) -> None:
    """Train XGBoost + isotonic per horizon, test out of time, register (docs/model.md)."""
    from ml.config import parse_horizons
    from ml.dataset import Windows, check_horizons
    from ml.report import format_table
    from ml.train import TrainParams, train

    cfg = one_fund(funds)
    windows = Windows(iso_date("--train-start", train_start), iso_date("--train-end", train_end),
                      iso_date("--test-start", test_start), iso_date("--test-end", test_end))
    given = {"max_depth": max_depth, "learning_rate": learning_rate, "n_estimators": n_estimators}
    params = TrainParams(**{k: v for k, v in given.items() if v is not None},  # else the defaults
                         nthread=cfg.duckdb_threads, n_boot=n_boot, neg_sample_rate=neg_sample_rate,
                         depot_sample_rate=depot_sample_rate)
    hs = check_horizons(cfg, parse_horizons(horizons))  # every input checked before the lock
    windows.require_fit_days(hs)
    with locked(cfg, "train") as record:
        summary = train(cfg, hs, windows, params, force_promote=promote, tune_trials=tune_trials if tune else 0)
        record.add(rows_written=len(summary), model_versions={f"T{r['horizon']}": r["version"] for r in summary})
    click.echo(format_table(summary, TRAIN_COLUMNS))
    for s in summary:
        if s.get("tuning"):
            t = s["tuning"]
            win = next(r for r in t["trials"] if r["chosen"])
            click.echo(f"T{s['horizon']} tuned ({len(t['trials'])} trials, early-stopping AP "
                       f"{win['ap_early_stopping']} vs {t['trials'][0]['ap_early_stopping']} with the "
                       "defaults): " + ", ".join(f"{k} {v}" for k, v in t["chosen"].items()))


@cli.command("score")
@click.option("--date", "day", default=None, help="Score_Date to score [latest in the aggregate table].")
@fund_option
@edge
def score_cmd(day: str | None, funds: tuple[str, ...]) -> None:
    """Score one day's Pre_First_Target rows with the active models (hashes verified)."""
    from ml.score import score_day

    cfgs = fund_settings(funds)
    when = iso_date("--date", day)
    with locked(cfgs[0], "score", cfgs):
        each_fund(cfgs, lambda cfg: echo_summary(
            {**({"fund": cfg.target.code} if len(cfgs) > 1 else {}), **score_day(cfg, when)}))


@cli.group("registry")
def registry_grp() -> None:
    """List, promote and roll back registered models."""


@registry_grp.command("list")
@one_fund_option
@edge
def registry_list_cmd(funds: tuple[str, ...]) -> None:
    """Every registered model with its test metrics and active flag."""
    from ml.db import open_target
    from ml.registry import list_models
    from ml.report import format_table

    cfg = one_fund(funds)
    with open_target(cfg, read_only=not cfg.duckdb_path.exists()) as db:
        df = list_models(db, cfg.target.code)
    rows = df.assign(active=df["Is_Active"] == 1).to_dict(orient="records")
    click.echo(format_table(rows, [
        ("Version", "version", ""), ("Horizon", "T", ""), ("Train_Start", "train from", ""),
        ("Train_End", "train to", ""), ("Test_Start", "test from", ""), ("Test_End", "test to", ""),
        ("Test_AP", "AP", ".4f"), ("Test_Base_Rate", "base rate", ".4f"),
        ("Test_Lift_At_1", "Lift@1%", ".2f"), ("active", "active", ""),
    ]))


@registry_grp.command("promote")
@click.argument("version")
@one_fund_option
@edge
def registry_promote_cmd(version: str, funds: tuple[str, ...]) -> None:
    """Make VERSION the active model of every horizon it was trained for."""
    from ml.db import open_target
    from ml.registry import promote

    cfg = one_fund(funds)
    with locked(cfg, "registry promote"), open_target(cfg) as db:
        horizons = promote(db, cfg.target.code, version)
    echo_summary({"promoted": version, "horizons": ", ".join(f"T{h}" for h in horizons)})


@registry_grp.command("rollback")
@one_fund_option
@edge
def registry_rollback_cmd(funds: tuple[str, ...]) -> None:
    """Return every configured horizon to the model that was active before the current one."""
    from ml.db import open_target
    from ml.registry import rollback

    cfg = one_fund(funds)
    with locked(cfg, "registry rollback"), open_target(cfg) as db:
        now_active = rollback(db, cfg.target.code, cfg.target.horizons)
    echo_summary({f"T{h} active": v for h, v in now_active.items()})


@cli.command("eval")
@click.option("--horizons", default=HORIZONS, show_default=True, help="Comma-separated horizons in days.")
@click.option("--start", required=True, help="First Score_Date of the interval.")
@click.option("--end", required=True, help="Last Score_Date of the interval.")
@click.option("--n-boot", type=click.IntRange(0, 10_000), default=200, show_default=True,
              help="Bootstrap draws for the AP interval.")
@click.option("--version", "versions", multiple=True,
              help="Only this registered version (repeatable) [all].")
@fund_option
@edge
def eval_cmd(horizons: str, start: str, end: str, n_boot: int, versions: tuple[str, ...],
             funds: tuple[str, ...]) -> None:
    """Evaluate every registered model on the label-complete rows of an interval (FA_MODEL_EVAL)."""
    from ml.config import parse_horizons
    from ml.dataset import check_horizons
    from ml.errors import BadInput

    cfgs = fund_settings(funds)
    hs = {c.target.code: check_horizons(c, parse_horizons(horizons)) for c in cfgs}  # checked before the lock
    first, last = iso_date("--start", start), iso_date("--end", end)
    if first > last:
        raise BadInput("--start must not be after --end")
    with locked(cfgs[0], "eval", cfgs) as record:
        each_fund(cfgs, lambda cfg: _eval_fund(cfg, hs[cfg.target.code], first, last, n_boot,
                                               versions, record, len(cfgs) > 1))


def _eval_fund(cfg: Any, hs: Any, first: date, last: date, n_boot: int,
               versions: tuple[str, ...], record: Any, name_fund: bool) -> None:
    from ml.evaluate import evaluate_models
    from ml.report import format_table

    rows = evaluate_models(cfg, hs, first, last, n_boot=n_boot, versions=versions)
    record.add(rows_written=len(rows))
    rows = [{**r, "active": r["Is_Active"] == 1, "in_sample": r["Overlaps_Training"] == 1} for r in rows]
    if name_fund:
        click.echo(f"fund {cfg.target.code}")
    click.echo(format_table(rows, [
        ("Horizon", "T", ""), ("Version", "version", ""), ("Rows", "rows", ","),
        ("Base_Rate", "base rate", ".4f"), ("AP", "AP", ".4f"), ("P_At_1", "P@1%", ".3f"),
        ("Lift_At_1", "Lift@1%", ".2f"), ("Lift_At_5", "Lift@5%", ".2f"), ("ECE", "ECE", ".4f"),
        ("active", "active", ""), ("in_sample", "in-sample", ""),
    ]))


@cli.command("qc")
@click.option("--window-days", type=click.IntRange(1, 3650), default=30, show_default=True)
@click.option("--date", "day", default=None, help="Last day of the window [latest aggregate day].")
@fund_option
@edge
def qc_cmd(window_days: int, day: str | None, funds: tuple[str, ...]) -> None:
    """Daily checks: counts, positive rates, NULL shares, data quality; exit 5 on an alert."""
    cfgs = fund_settings(funds)
    when = iso_date("--date", day)
    with locked(cfgs[0], "qc", cfgs):
        each_fund(cfgs, lambda cfg: _qc_fund(cfg, window_days, when))


def _qc_fund(cfg: Any, window_days: int, when: date | None) -> None:
    from ml.errors import QCAlert
    from ml.qc import alert_line, run_qc

    result = run_qc(cfg, window_days, when)
    click.echo(result["summary"])
    if result["alerts"]:
        raise QCAlert(alert_line(result["alerts"]))


@cli.command("report")
@click.option("--date", "day", default=None, help="Score_Date of the report [latest scored day].")
@click.option("--out", type=click.Path(dir_okay=True, path_type=str), default=None,
              help="HTML file to write [FA_ART_DIR/report_<CODE>_<date>.html]; one fund only.")
@fund_option
@edge
def report_cmd(day: str | None, out: str | None, funds: tuple[str, ...]) -> None:
    """One self-contained HTML report per fund: test curves, monitoring, drift, QC, registry, run log."""
    from pathlib import Path

    from ml.errors import BadInput
    from ml.report_html import write_report

    cfgs = fund_settings(funds)
    if out and len(cfgs) > 1:
        raise BadInput("--out names one file: give one --fund with it")
    when = iso_date("--date", day)
    each_fund(cfgs, lambda cfg: echo_summary(
        write_report(cfg, when, Path(out).resolve() if out else None)))


@cli.command("daily")
@click.option("--date", "day", default=None, help="Score_Date to run [the data horizon].")
@fund_option
@edge
def daily_cmd(day: str | None, funds: tuple[str, ...]) -> None:
    """dbt build of the day -> score -> qc (every fund), each a child process with its time limit."""
    from ml.runner import daily

    cfgs = fund_settings(funds)
    when = iso_date("--date", day)
    with locked(cfgs[0], "daily", cfgs, shared=True):
        summary = daily(cfgs[0], when, [c.target.code for c in cfgs])
    echo_summary(summary)


@cli.command("demo")
@click.option("--depots", type=click.IntRange(50, 1_000_000), default=2000, show_default=True)
@click.option("--days", type=click.IntRange(300, 3650), default=730, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--end-date", default="2025-08-20", show_default=True)
@click.option("--n-boot", type=click.IntRange(0, 10_000), default=200, show_default=True,
              help="Bootstrap draws for the training metrics' intervals.")
@one_fund_option
@edge
def demo_cmd(depots: int, days: int, seed: int, end_date: str, n_boot: int,
             funds: tuple[str, ...]) -> None:
    """Demo world -> backfill -> train -> score -> eval -> qc -> report, then a summary table."""
    from ml.runner import demo

    cfg = one_fund(funds)
    last_day = iso_date("--end-date", end_date)
    with locked(cfg, "demo", shared=True):
        rows, facts, alert = demo(cfg, depots, days, seed, last_day, n_boot)
        _demo_output(rows, facts, alert)


def _demo_output(rows: list, facts: dict, alert: Any) -> None:
    from ml.report import format_table

    click.echo("")
    click.echo(format_table(rows, [
        ("horizon", "horizon", ""), ("version", "version", ""), ("test_rows", "test rows", ","),
        ("base_rate", "base rate", ".4f"), ("ap", "AP", ".4f"), ("lift_at_1", "Lift@1%", ".2f"),
        ("rows_scored", "rows scored", ","),
    ]))
    echo_summary(facts)
    if alert is not None:
        raise alert


if __name__ == "__main__":
    cli(prog_name="orchestrate.py")
