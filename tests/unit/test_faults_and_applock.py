"""Fault points (ml/faults.py) and the SQL Server pipeline lock (sp_getapplock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ml.config import load_settings
from ml.db_sqlserver import SqlServerDatabase, sqlserver_applock
from ml.errors import LockHeld
from ml.faults import _specs, _verb, dbt_callbacks, fault_point
from tools.fake_dbapi import FakeConnection

ROOT = Path(__file__).resolve().parents[2]


def test_fault_point_is_a_no_op_without_the_variable(monkeypatch):
    monkeypatch.delenv("FA_FAULT_AT", raising=False)
    fault_point("db.replace:X")  # returns: nothing happens
    assert dbt_callbacks() == []


def test_specs_parse_point_occurrence_and_action(monkeypatch):
    monkeypatch.setenv("FA_FAULT_AT", "dbt.sql:fa_labels:insert@2, registry.set_active:sleep1.5,x,"
                       "dbt.sql:m:insert:killafter0.2")
    assert _specs() == [("dbt.sql:fa_labels:insert", 2, "kill"),
                        ("registry.set_active", 1, "sleep1.5"), ("x", 1, "kill"),
                        ("dbt.sql:m:insert", 1, "killafter0.2")]


def test_verb_skips_comments():
    assert _verb("/* {\"app\": \"dbt\"} */\n\n  -- note\n  DELETE from t where 1") == "delete"
    assert _verb("insert into x select 1;") == "insert"


def test_kill_happens_at_the_named_occurrence_only():
    code = ("from ml.faults import fault_point\n"
            "for i in range(3):\n"
            "    print('pass', i, flush=True)\n"
            "    fault_point('p')\n")
    env = {"FA_FAULT_AT": "p@2", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == -9  # SIGKILL
    assert out.stdout.split("\n")[:2] == ["pass 0", "pass 1"]
    assert "FAULT p: kill" in out.stderr


def test_killafter_kills_from_a_timer_while_the_process_works_on():
    code = ("import time\nfrom ml.faults import fault_point\n"
            "fault_point('p')\nprint('returned', flush=True)\n"
            "t0 = time.monotonic()\n"
            "while time.monotonic() - t0 < 30: sum(range(10000))\n"
            "print('not killed', flush=True)\n")
    env = {"FA_FAULT_AT": "p:killafter0.3", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == -9
    assert out.stdout == "returned\n"


def test_dbt_events_become_points(monkeypatch):
    seen = []
    monkeypatch.setenv("FA_FAULT_AT", "none")
    monkeypatch.setattr("ml.faults.fault_point", seen.append)
    (callback,) = dbt_callbacks()
    node = SimpleNamespace(node_name="fa_agg_buy")
    ev = lambda name, **d: SimpleNamespace(info=SimpleNamespace(name=name),  # noqa: E731
                                           data=SimpleNamespace(node_info=node, **d))
    callback(ev("NodeStart"))
    callback(ev("SQLQuery", sql="/* dbt */ insert into t select 1"))
    callback(ev("NodeFinished"))
    assert seen == ["dbt.start:fa_agg_buy", "dbt.sql:fa_agg_buy:insert", "dbt.done:fa_agg_buy"]


# ---- SQL Server lock -----------------------------------------------------------------
def _applock(monkeypatch, rc: int) -> FakeConnection:
    con = FakeConnection()
    con.respond("sp_getapplock", ["rc"], [(rc,)], types=[int])
    monkeypatch.setattr("ml.db_sqlserver.open_sqlserver_target",
                        lambda settings, env=None: SqlServerDatabase(con))
    return con


def test_applock_is_exclusive_session_no_wait_and_released(monkeypatch):
    con = _applock(monkeypatch, 0)
    with sqlserver_applock(load_settings({"FA_ENGINE": "sqlserver"}), "daily"):
        sent = [c.sql for c in con.statements]
        assert len(sent) == 1
    lock = con.statements[0]
    assert "@LockMode = 'Exclusive'" in lock.sql and "@LockOwner = 'Session'" in lock.sql
    assert lock.params == ["first_buy_pipeline", 0]  # @LockTimeout = 0: fail at once
    assert "sp_releaseapplock" in con.statements[-1].sql
    assert con.closed


@pytest.mark.parametrize("rc", [-1, -2, -3, -999])
def test_applock_refused_is_lock_held_and_closes(monkeypatch, rc):
    con = _applock(monkeypatch, rc)
    with pytest.raises(LockHeld, match=r"^another pipeline run holds the lock 'first_buy_pipeline' "
                                       rf"on SQL Server \(sp_getapplock {rc}\); wait"):
        with sqlserver_applock(load_settings({"FA_ENGINE": "sqlserver"}), "score"):
            pytest.fail("must not run")
    assert not any("sp_releaseapplock" in c.sql for c in con.statements)
    assert con.closed


def test_pipeline_lock_dispatches_to_sqlserver(monkeypatch):
    from ml.lock import pipeline_lock

    monkeypatch.delenv("FA_LOCK_OWNER_PID", raising=False)
    con = _applock(monkeypatch, -1)
    with pytest.raises(LockHeld):
        with pipeline_lock(load_settings({"FA_ENGINE": "sqlserver"}), "train"):
            pass
    assert "sp_getapplock" in con.statements[0].sql
