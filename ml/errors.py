"""Domain exceptions and the exit codes they map to.

Every expected failure of the pipeline raises one of these; the edges (orchestrate.py's
commands, the runner's steps in ml/steps.py) turn it into a single ``Error: ...`` line on
stderr and the exit code below (documented in README.md), through :func:`at_edge`.
"""

from __future__ import annotations

import os

# Exit codes: part of the interface, scripts and schedulers rely on them.
EXIT_OK = 0
EXIT_UNEXPECTED = 1   # a bug or an unforeseen failure (stack trace only with --debug)
EXIT_BAD_INPUT = 2    # bad CLI option, bad FA_CONFIG, bad environment variable
EXIT_DATA = 3         # missing table, no active model, no labelled rows, altered artifact
EXIT_DBT = 4          # dbt build failed (a model or a data test)
EXIT_QC_ALERT = 5     # QC ran and raised at least one alert
EXIT_LOCKED = 6       # another writer holds the pipeline lock
EXIT_TIMEOUT = 7      # a step exceeded its time limit


class FAError(Exception):
    """Base class of all expected pipeline failures."""

    exit_code = EXIT_UNEXPECTED


class BadInput(FAError):
    """Invalid user input: CLI options, configuration, environment."""

    exit_code = EXIT_BAD_INPUT


class DataError(FAError):
    """The data or the registry is not in a state the step can work with."""

    exit_code = EXIT_DATA


class DbtFailed(FAError):
    """dbt reported an error or a failing test."""

    exit_code = EXIT_DBT


class QCAlert(FAError):
    """QC found at least one alert (the run itself completed)."""

    exit_code = EXIT_QC_ALERT


class LockHeld(FAError):
    """Another pipeline writer is running."""

    exit_code = EXIT_LOCKED


class StepTimeout(FAError):
    """A step of the daily runner ran past its time limit."""

    exit_code = EXIT_TIMEOUT


def failure(exc: BaseException) -> tuple[int, str]:
    """The exit code and message of a failure: an FAError's own; exit 1 for anything else (a bug)."""
    if isinstance(exc, FAError):
        return exc.exit_code, str(exc)
    return EXIT_UNEXPECTED, f"unexpected {type(exc).__name__}: {exc}"


def at_edge(exc: Exception) -> tuple[int, str]:
    """The exit code and the text of the one ``Error:`` line a command ends with.

    A bug (not an FAError) is re-raised when FA_DEBUG is set, so its trace is shown;
    otherwise its line says how to get the trace.
    """
    code, message = failure(exc)
    if not isinstance(exc, FAError):
        if os.environ.get("FA_DEBUG"):
            raise exc
        message += " (set FA_DEBUG=1 for the trace)"
    return code, message
