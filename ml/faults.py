"""Test-only fault injection: named points where a test can kill or pause the process.

``fault_point(name)`` is called at the places where a crash would hurt most (between the
DELETE and the INSERT of a replaced day, between two registry updates, inside a dbt model's
transaction). It does nothing unless the environment variable ``FA_FAULT_AT`` names that
point, so production runs never pay more than one dict lookup.

``FA_FAULT_AT`` holds one or more comma-separated specs ``POINT[@N][:ACTION]``:

- ``POINT``: the point's name, e.g. ``db.replace:CD_FA_BUY_DEMO_ML`` or
  ``dbt.sql:fa_labels:insert`` (see docs/reliability.md for the list).
- ``@N``: act on the N-th time this process passes the point (default 1).
- ``ACTION``: ``kill`` (default: SIGKILL to this process, nothing is cleaned up, exactly like
  ``kill -9`` or a power cut), ``killafterS`` (SIGKILL from a timer S seconds later, so it
  lands wherever the process is then, e.g. inside DuckDB executing the next statement) or
  ``sleepS`` (sleep S seconds, e.g. ``sleep30``; used to keep a lock holder busy).

tests/reliability/ uses it to kill a real ``orchestrate.py`` child at each point, rerun
the command and compare the tables with an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from typing import Any, Callable

FAULT_ENV = "FA_FAULT_AT"
_passes: Counter = Counter()


def _specs() -> list[tuple[str, int, str]]:
    """The parsed FA_FAULT_AT: (point, occurrence, action) triples; [] when unset."""
    raw = os.environ.get(FAULT_ENV, "").strip()
    out = []
    for item in filter(None, (s.strip() for s in raw.split(","))):
        point, _, action = _split_action(item)
        point, _, nth = point.partition("@")
        out.append((point, int(nth) if nth.isdigit() else 1, action or "kill"))
    return out


def _split_action(item: str) -> tuple[str, str, str]:
    """'a:b:c:sleep5' -> ('a:b:c', ':', 'sleep5'); point names contain ':' themselves."""
    head, sep, tail = item.rpartition(":")
    if sep and (tail.startswith("kill") or tail.startswith("sleep")):
        return head, sep, tail
    return item, "", ""


def _act(point: str, action: str) -> None:
    print(f"FAULT {point}: {action}", file=sys.stderr, flush=True)
    if action.startswith("sleep"):
        time.sleep(float(action[5:] or 60))
        return
    if action.startswith("killafter"):
        import threading

        timer = threading.Timer(float(action[9:] or 0.1), _kill_now)
        timer.daemon = True
        timer.start()
        return
    _kill_now()


def _kill_now() -> None:
    if hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(137)  # pragma: no cover - Windows has no SIGKILL


def fault_point(name: str) -> None:
    """Kill or pause this process here when FA_FAULT_AT asks for ``name`` (else a no-op)."""
    if FAULT_ENV not in os.environ:
        return
    _passes[name] += 1
    for point, nth, action in _specs():
        if point == name and _passes[name] == nth:
            _act(name, action)


def dbt_callbacks() -> list[Callable[[Any], None]]:
    """dbtRunner callbacks that raise dbt's events as fault points (none when unset).

    Points: ``dbt.start:<model>`` (a node starts), ``dbt.done:<model>`` (a node finished and
    committed), ``dbt.sql:<model>:<verb>`` (just before dbt sends a statement whose first
    word is <verb>, lower case: ``delete``, ``insert``, ``create``, ``alter``, ``commit`` ...).
    """
    if FAULT_ENV not in os.environ:
        return []

    def on_event(event: Any) -> None:
        name = event.info.name
        data = event.data
        node = getattr(getattr(data, "node_info", None), "node_name", "") or ""
        if name == "NodeStart":
            fault_point(f"dbt.start:{node}")
        elif name == "NodeFinished":
            fault_point(f"dbt.done:{node}")
        elif name == "SQLQuery" and node:
            fault_point(f"dbt.sql:{node}:{_verb(getattr(data, 'sql', ''))}")

    return [on_event]


def _verb(sql: str) -> str:
    """First word of a statement, comments and blank lines skipped, lower-cased."""
    for line in str(sql).splitlines():
        text = line.strip()
        if text.startswith("/*"):
            text = text.split("*/", 1)[1].strip() if "*/" in text else ""
        if text and not text.startswith("--"):
            return text.split()[0].lower().rstrip(";")
    return ""
