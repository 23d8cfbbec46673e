"""Artifacts are verified before use; registry rows are never deleted.

A missing or altered (one byte) artifact stops ``score`` with exit 3 and a line naming the
file, before anything is written. Retraining, promoting and rolling back only ever add
registry and history rows; the one column that changes on existing rows is Is_Active.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestrate import cli

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import synthetic_world  # noqa: E402

TRAIN = ["train", "--horizons", "7,14,30", "--train-start", "2024-10-25", "--train-end", "2025-06-10",
         "--test-start", "2025-06-11", "--test-end", "2025-07-21", "--n-estimators", "20", "--n-boot", "0"]
REGISTRY_COLUMNS_BUT_ACTIVE = "* EXCLUDE (Is_Active)"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    monkeypatch.setenv("FA_ART_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "src.duckdb"))
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    for var in ("FA_CONFIG", "FA_ENGINE", "FA_LOCK_OWNER_PID", "FA_FAULT_AT"):
        monkeypatch.delenv(var, raising=False)
    synthetic_world.write_tables(tmp_path / "fa.duckdb", depots=80, days=300)
    return tmp_path


def cli_ok(*args):
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == 0, r.output
    return r


def cli_error(*args):
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.output.strip().splitlines()[-1]


def query(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "fa.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def active_version(home: Path) -> str:
    (v,) = {r[0] for r in query(home, "SELECT Version FROM dbo.FA_MODEL_REGISTRY WHERE Is_Active = 1")}
    return v


def test_missing_or_altered_artifact_stops_score(env):
    cli_ok(*TRAIN)
    cli_ok("score", "--date", "2025-08-20")
    scores = query(env, "SELECT * EXCLUDE (scored_at) FROM dbo.CD_FA_BUY_DEMO_ML ORDER BY ALL")
    version = active_version(env)
    folder = env / "artifacts" / "DEMO" / version

    booster = folder / "T7" / "booster.ubj"
    data = bytearray(booster.read_bytes())
    original = bytes(data)
    data[len(data) // 2] ^= 0x01                       # one bit of one byte
    booster.write_bytes(bytes(data))
    assert cli_error("score", "--date", "2025-08-19") == (3, (
        f"Error: artifact {booster} of model {version} T7 was altered (sha256 differs from the "
        "registry); restore it or retrain"))
    booster.write_bytes(original)

    features = folder / "T30" / "features.json"
    saved = features.read_bytes()
    features.unlink()
    assert cli_error("score", "--date", "2025-08-19") == (
        3, f"Error: artifact {features} of model {version} T30 is missing; restore it or retrain")
    features.write_bytes(saved)

    # nothing was written by the refused runs: 2025-08-19 never scored
    assert query(env, "SELECT * EXCLUDE (scored_at) FROM dbo.CD_FA_BUY_DEMO_ML ORDER BY ALL") == scores
    cli_ok("score", "--date", "2025-08-19")           # restored: scoring works again


def test_registry_path_outside_the_artifact_folder_is_refused(env):
    cli_ok(*TRAIN)
    con = duckdb.connect(str(env / "fa.duckdb"))
    con.execute("UPDATE dbo.FA_MODEL_REGISTRY SET Calibrator_Path = '../../etc/passwd' WHERE Horizon = 14")
    con.close()
    code, line = cli_error("score", "--date", "2025-08-20")
    assert code == 3
    assert line == f"Error: registry path ../../etc/passwd of model {active_version(env)} leaves FA_ART_DIR"


def test_registry_rows_are_never_deleted(env):
    def snapshot():
        reg = query(env, f"SELECT {REGISTRY_COLUMNS_BUT_ACTIVE} FROM dbo.FA_MODEL_REGISTRY ORDER BY ALL")
        hist = query(env, "SELECT * FROM dbo.FA_MODEL_REGISTRY_HISTORY ORDER BY ALL")
        return reg, hist

    cli_ok(*TRAIN)
    steps = [
        ("retrain", TRAIN[:-4] + ["--n-estimators", "25", "--max-depth", "3", "--n-boot", "0", "--promote"], 3),
        ("rollback", ["registry", "rollback"], 0),
    ]
    reg, hist = snapshot()
    assert len(reg) == 3 and len(hist) == 3
    for name, args, new_rows in steps:
        cli_ok(*args)
        reg2, hist2 = snapshot()
        assert set(reg) <= set(reg2), name                # every earlier row still there, unchanged
        assert len(reg2) == len(reg) + new_rows, name
        assert set(hist) <= set(hist2) and len(hist2) == len(hist) + 3, name  # one event per horizon
        reg, hist = reg2, hist2
    newest = max(r[0] for r in query(env, "SELECT Version FROM dbo.FA_MODEL_REGISTRY"))
    cli_ok("registry", "promote", newest)
    reg2, hist2 = snapshot()
    assert reg2 == reg and set(hist) <= set(hist2) and len(hist2) == len(hist) + 3
    assert active_version(env) == newest
    assert query(env, "SELECT count(*) FROM dbo.FA_MODEL_REGISTRY")[0][0] == 6
