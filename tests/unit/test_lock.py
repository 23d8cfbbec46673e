"""The pipeline lock: one writer at a time, released when the holder dies."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ml.config import load_settings
from ml.errors import LockHeld
from ml.lock import OWNER_ENV, lock_path, pipeline_lock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def settings(tmp_path):
    return load_settings({"FA_DUCKDB_PATH": str(tmp_path / "fa.duckdb")})


def _other_process_tries(tmp_path: Path) -> subprocess.CompletedProcess:
    code = textwrap.dedent(
        f"""
        from ml.config import load_settings
        from ml.errors import LockHeld
        from ml.lock import pipeline_lock
        s = load_settings({{"FA_DUCKDB_PATH": {str(tmp_path / 'fa.duckdb')!r}}})
        try:
            with pipeline_lock(s, "score"):
                print("GOT")
        except LockHeld as exc:
            print("HELD", exc)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != OWNER_ENV}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_second_writer_is_refused_while_held(settings, tmp_path):
    with pipeline_lock(settings, "backfill"):
        out = _other_process_tries(tmp_path)
        assert out.stdout.startswith("HELD another pipeline run holds the lock")
        assert "'backfill'" in out.stdout and f"pid {os.getpid()}" in out.stdout
    # released on exit: the other process now gets it
    assert _other_process_tries(tmp_path).stdout.strip() == "GOT"


def test_lock_is_released_when_the_holder_is_killed(settings, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from ml.config import load_settings
            from ml.lock import pipeline_lock
            s = load_settings({{"FA_DUCKDB_PATH": {str(tmp_path / 'fa.duckdb')!r}}})
            with pipeline_lock(s, "daily"):
                print("LOCKED", flush=True)
                time.sleep(120)
        """)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        with pytest.raises(LockHeld):
            with pipeline_lock(settings, "score"):
                pass
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with pipeline_lock(settings, "score"):
        assert lock_path(settings).exists()


def test_child_of_the_holder_inherits_the_lock(settings, tmp_path):
    with pipeline_lock(settings, "daily"):
        assert os.environ[OWNER_ENV] == str(os.getpid())
        code = textwrap.dedent(f"""
            from ml.config import load_settings
            from ml.lock import pipeline_lock
            s = load_settings({{"FA_DUCKDB_PATH": {str(tmp_path / 'fa.duckdb')!r}}})
            with pipeline_lock(s, "score"):
                print("CHILD OK")
        """)
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert out.stdout.strip() == "CHILD OK", out.stderr
    assert OWNER_ENV not in os.environ


# ---- the Windows branch, with a fake msvcrt that models byte-range locks ---------------
class FakeMsvcrt:
    """msvcrt.locking as Windows implements it: lock ``nbytes`` bytes from the descriptor's
    current position; a second descriptor (another process) overlapping a held range fails
    with OSError. A range is released when its descriptor is unlocked or closed (the
    fixture reports closes: a descriptor number can be reused for the same file)."""

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4

    def __init__(self):
        self.held: list[tuple[tuple[int, int], int, int, int]] = []  # (file, start, end, fd)
        self.calls: list[tuple[int, int]] = []                      # (mode, position)

    @staticmethod
    def _file(fd: int) -> tuple[int, int]:
        st = os.fstat(fd)
        return (st.st_dev, st.st_ino)

    def closed(self, fd: int) -> None:
        self.held = [h for h in self.held if h[3] != fd]

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        pos = os.lseek(fd, 0, os.SEEK_CUR)
        self.calls.append((mode, pos))
        key, start, end = self._file(fd), pos, pos + nbytes
        if mode == self.LK_UNLCK:
            self.held = [h for h in self.held if not (h[3] == fd and h[1] == start)]
            return
        for other_key, s, e, other_fd in self.held:
            if other_key == key and s < end and start < e:
                raise OSError(36, "Resource deadlock avoided")  # what LK_NBLCK raises
        self.held.append((key, start, end, fd))


class _Handle:
    """The lock file's handle, telling the fake msvcrt when its descriptor closes."""

    def __init__(self, handle, fake: FakeMsvcrt):
        self._handle, self._fake = handle, fake

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def close(self) -> None:
        self._fake.closed(self._handle.fileno())
        self._handle.close()


@pytest.fixture()
def windows(monkeypatch):
    import builtins

    import ml.lock

    fake = FakeMsvcrt()
    monkeypatch.setattr(ml.lock, "open", lambda *a, **k: _Handle(builtins.open(*a, **k), fake),
                        raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.delenv(OWNER_ENV, raising=False)
    return fake


def test_windows_second_writer_is_refused_on_the_same_byte(windows, settings):
    """The holder rewrites the lock file (its JSON): a second opener must still hit the
    locked byte. With the position at the end of the file ('a+'), it did not."""
    with pipeline_lock(settings, "backfill"):
        assert lock_path(settings).stat().st_size > 1  # the holder's JSON was written
        with pytest.raises(LockHeld, match="another pipeline run holds the lock"):
            with pipeline_lock(settings, "score"):
                pass
    with pipeline_lock(settings, "score"):  # released when the holder closed the file
        pass
    positions = {pos for mode, pos in windows.calls if mode == FakeMsvcrt.LK_NBLCK}
    assert len(positions) == 1  # every attempt locks the same byte


def test_windows_lock_ignores_a_leftover_file_of_any_length(windows, settings):
    lock_path(settings).parent.mkdir(parents=True, exist_ok=True)
    lock_path(settings).write_text("x" * 37)  # left behind by an earlier run
    with pipeline_lock(settings, "daily"):
        with pytest.raises(LockHeld):
            with pipeline_lock(settings, "score"):
                pass
