"""Progress messages: to stderr, so stdout carries only results (summaries, tables)."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    """One progress line to stderr, flushed at once (steps run as child processes)."""
    print(message, file=sys.stderr, flush=True)
