"""One writer at a time: the pipeline lock.

Embedded default: an OS lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on a file
beside the FA DuckDB file. Windows locks byte ranges, not files: every process locks the
same fixed byte (:data:`WINDOWS_LOCK_BYTE`, beyond anything written to the file, so the
holder's JSON stays readable for the "held by" message) whatever the file's length. The OS drops it when the process dies, so a killed run never
leaves a stale lock behind. SQL Server: ``sp_getapplock`` on a session of the FA database
(see ml/db_sqlserver.py), released when that session ends.

A step started by the daily runner inherits its parent's lock: the parent exports
``FA_LOCK_OWNER_PID`` and a child whose parent process has that pid does not lock again.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Sequence

from ml.config import Settings
from ml.errors import BadInput, LockHeld

OWNER_ENV = "FA_LOCK_OWNER_PID"
# The byte every Windows process locks (msvcrt.locking locks from the current position; a
# region past the end of the file may be locked). Far beyond the holder's JSON line, which
# the holder rewrites: the locked byte must not depend on the file's length.
WINDOWS_LOCK_BYTE = 1 << 20


def lock_path(settings: Settings) -> Path:
    """The lock file of the embedded default: ``<FA_DUCKDB_PATH>.lock``."""
    return settings.duckdb_path.with_name(settings.duckdb_path.name + ".lock")


def _try_lock(handle: IO[str]) -> bool:
    if sys.platform == "win32":  # tested with a fake msvcrt (tests/unit/test_lock.py)
        import msvcrt

        try:
            os.lseek(handle.fileno(), WINDOWS_LOCK_BYTE, os.SEEK_SET)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder(path: Path) -> str:
    """A readable description of who holds the lock (best effort)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        return f" (pid {info.get('pid')}, '{info.get('command')}' since {info.get('since')})"
    except (OSError, ValueError):
        return ""


def inherited() -> bool:
    """True when this process was started by a runner that holds the lock."""
    return os.environ.get(OWNER_ENV) == str(os.getppid())


@contextmanager
def pipeline_lock(settings: Settings, command: str, funds: Sequence[str] | None = None,
                  shared: bool = True) -> Iterator[None]:
    """Hold the pipeline lock for the duration of a writing command, or raise LockHeld.

    ``funds``: the fund codes the command writes (default: settings.target's);
    ``shared``: whether it writes the dbt models shared by all funds. On SQL Server these
    pick the applocks (ml.db_sqlserver.applock_names); DuckDB has one writer per file.
    """
    if inherited():
        yield
        return
    if settings.engine == "sqlserver":
        from ml.db_sqlserver import applock_names, sqlserver_applock

        names = applock_names(funds if funds is not None else [settings.target.code], shared)
        with sqlserver_applock(settings, command, names=names):
            yield
        return
    path = lock_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")
    except OSError as exc:  # a read-only disk, a file where a folder should be, no permission
        raise BadInput(
            f"FA_DUCKDB_PATH: cannot create {path} ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        if not _try_lock(handle):
            raise LockHeld(
                f"another pipeline run holds the lock {path}{_holder(path)}; "
                "wait for it to finish, then rerun"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(),
            "command": command,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }))
        handle.flush()
        previous = os.environ.get(OWNER_ENV)
        os.environ[OWNER_ENV] = str(os.getpid())
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(OWNER_ENV, None)
            else:
                os.environ[OWNER_ENV] = previous
    finally:
        handle.close()  # closing the descriptor releases the OS lock


@contextmanager
def locked(settings: Settings, name: str, funds: Sequence[Settings] | None = None,
           shared: bool = False) -> Iterator[Any]:
    """The pipeline lock plus the command's FA_RUN_LOG record (ml/runlog.py): what every
    writing command (orchestrate.py) and step (ml/steps.py) runs inside.

    ``funds``: the Settings of every fund the command writes (default: ``settings``' own);
    ``shared``: it builds the dbt models shared by all funds (backfill, daily, demo).
    """
    from ml.runlog import command

    codes = [f.target.code for f in (funds or [settings])]
    with pipeline_lock(settings, name, codes, shared), command(settings, name) as record:
        yield record
