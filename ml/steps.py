"""The steps of the daily runner that are not commands of orchestrate.py.

``python -m ml.steps <step> [options]``. The runner (ml/runner.py) starts every step as a
child process; ``score`` and ``qc`` are public commands of orchestrate.py, the dbt step of
one Score_Date is not (``backfill`` is the command for a range), so it runs here::

    python -m ml.steps dbt --date D --fund CODE [--fund-models-only]

A step behaves like a command: it takes the pipeline lock (inherited from the runner,
ml/lock.py) with its FA_RUN_LOG record (reported to the runner through FA_STEP_REPORT,
ml/runlog.py), prints its summary on stdout, and ends a failure with one ``Error: ...``
line on stderr and the exit code of ml/errors.py (the same mapping as orchestrate.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Sequence

from ml.errors import EXIT_OK, BadInput, at_edge


class _Parser(argparse.ArgumentParser):
    """Usage errors are BadInput: one ``Error:`` line and exit 2, as in the CLI."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(message)


def dbt_step(args: argparse.Namespace) -> None:
    """dbt build of one Score_Date for one fund (ml.pipeline.build_day)."""
    from ml.config import load_settings, parse_date
    from ml.lock import locked
    from ml.pipeline import build_day
    from ml.report import summary_lines

    cfg = load_settings().for_fund(args.fund)
    day = parse_date(args.date, "--date")
    with locked(cfg, "dbt", shared=not args.fund_models_only) as record:
        summary = build_day(cfg, day, fund_only=args.fund_models_only)
        record.add(rows_written=summary["aggregate_rows"] + summary["label_rows"])
    print("\n".join(summary_lines(summary)), flush=True)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m ml.steps", description=__doc__.splitlines()[0])
    steps = p.add_subparsers(dest="step", required=True, metavar="STEP")
    dbt = steps.add_parser("dbt", help="dbt build of one Score_Date for one fund (the daily's dbt step)")
    dbt.add_argument("--date", required=True, help="Score_Date to build (YYYY-MM-DD).")
    dbt.add_argument("--fund", required=True, metavar="CODE", help="The fund of FA_CONFIG.")
    dbt.add_argument("--fund-models-only", action="store_true",
                     help="Only the fund's own models (dbt tag fund): the shared ones are built.")
    dbt.set_defaults(run=dbt_step)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; its exit code (0, or the code of its failure)."""
    try:
        args = parser().parse_args(argv)
        args.run(args)
    except Exception as exc:
        code, message = at_edge(exc)
        print(f"Error: {message}", file=sys.stderr, flush=True)
        return code
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
