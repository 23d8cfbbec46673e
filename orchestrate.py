"""First-Buy pipeline command line: a thin click shell over the ``ml`` package.

Each command parses its options, calls one library function and prints a summary to
stdout; progress goes to stderr. Expected failures end in one ``Error: ...`` line and the
exit code documented in README.md (see ml/errors.py).
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import date
from typing import Any, Callable

import click

from ml.errors import EXIT_UNEXPECTED, FAError


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
        except FAError as exc:
            raise PipelineError(str(exc), exc.exit_code) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # a bug: one line unless FA_DEBUG asks for the trace
            if os.environ.get("FA_DEBUG"):
                raise
            raise PipelineError(
                f"unexpected {type(exc).__name__}: {exc} (set FA_DEBUG=1 for the trace)",
                EXIT_UNEXPECTED,
            ) from None

    return wrapper


def settings():
    """Load and validate configuration (FA_CONFIG + environment)."""
    from ml.config import load_settings

    return load_settings()


def iso_date(what: str, text: str | None) -> date | None:
    from ml.config import parse_date

    return None if text is None else parse_date(text, what)


def echo_summary(rows: dict[str, Any]) -> None:
    """A short aligned key: value summary on stdout."""
    width = max((len(k) for k in rows), default=0)
    for key, value in rows.items():
        click.echo(f"{key.ljust(width)}  {value}")


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
@edge
def demo_data_cmd(depots: int, days: int, seed: int, end_date: str) -> None:
    """Write a generated source world (SPEC §2) into FA_SOURCE_DB."""
    from ml.demo_data import generate

    summary = generate(settings(), depots=depots, days=days, seed=seed,
                       end_date=iso_date("--end-date", end_date))
    echo_summary(summary)


@cli.command("backfill")
@click.option("--months", type=click.IntRange(1, 240), default=None,
              help="Recompute the last N months up to the data horizon.")
@click.option("--start-date", default=None, help="First Score_Date (YYYY-MM-DD).")
@click.option("--end-date", default=None, help="Last Score_Date (YYYY-MM-DD).")
@edge
def backfill_cmd(months: int | None, start_date: str | None, end_date: str | None) -> None:
    """Recompute aggregates and labels for a range of Score_Dates with dbt."""
    from ml.lock import pipeline_lock
    from ml.pipeline import backfill, resolve_backfill_range

    cfg = settings()
    start, end = resolve_backfill_range(
        cfg, months, iso_date("--start-date", start_date), iso_date("--end-date", end_date)
    )
    with pipeline_lock(cfg, "backfill"):
        echo_summary(backfill(cfg, start, end))


if __name__ == "__main__":
    cli(prog_name="orchestrate.py")
