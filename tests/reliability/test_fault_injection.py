"""SIGKILL at the worst moments, then a rerun: the tables equal those of an uninterrupted run.

Every scenario runs the same command twice over identical starting states: once cleanly
("clean"), once as a real ``python orchestrate.py ...`` child that ml/faults.py kills with
SIGKILL at a named point (``FA_FAULT_AT``), followed by a rerun of the same command. The
tables are then compared by an ordered content hash of every table in ``dbo``, dbt's int_*
working tables included (the columns that hold wall-clock times excluded: scored_at,
Created_At, Event_At ...), and the set of tables must be the same (no leftover temp table).

Where the kill lands inside a transaction the test also checks the state *before* the rerun:
the half-done step must have left no trace (the rows deleted by the killed transaction
are still there).

Scenarios (docs/reliability.md):
- backfill killed inside the aggregate model's transaction of its second chunk (by a timer,
  while DuckDB executes the INSERT);
- daily killed in its dbt child (``python -m ml.steps dbt``) inside the labels model's transaction, after
  its pre_hook DELETE of the day, then again after the aggregate committed and before the
  labels: the runner reports the killed step (exit 1), the rerun heals;
- score killed between the DELETE and the INSERT of the day;
- registry rollback and promote killed between two horizons' updates;
- train killed while writing artifacts and inside the registration transaction.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import synthetic_world  # noqa: E402
from db_snapshot import table_hashes  # noqa: E402  (FA_RUN_LOG left out: a log, not state)

pytestmark = pytest.mark.slow

END = "2025-08-20"
START = "2025-05-13"          # 100 days: two backfill chunks (3 months + 8 days)
TRAIN = ["train", "--horizons", "7,14,30", "--train-start", "2024-10-25", "--train-end", "2025-06-10",
         "--test-start", "2025-06-11", "--test-end", "2025-07-21", "--n-estimators", "30", "--n-boot", "0"]


# ---- helpers ---------------------------------------------------------------------------
def run(home: Path, *args: str, fault: str | None = None, source: Path | None = None,
        timeout: int = 600, config: Path | None = None) -> subprocess.CompletedProcess:
    """``python orchestrate.py args`` as a real child with every FA_* path under ``home``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FA_LOCK_OWNER_PID", "FA_FAULT_AT", "FA_CONFIG", "FA_ENGINE")}
    env.update({
        "FA_DUCKDB_PATH": str(home / "fa.duckdb"),
        "FA_ART_DIR": str(home / "artifacts"),
        "FA_SOURCE_DB": str(source or home / "src.duckdb"),
        "DBT_TARGET_PATH": str(home / "dbt_target"),
        "DBT_LOG_PATH": str(home / "dbt_logs"),
        "OMP_WAIT_POLICY": "PASSIVE",
    })
    if fault:
        env["FA_FAULT_AT"] = fault
    if config:
        env["FA_CONFIG"] = str(config)
    return subprocess.run([sys.executable, str(ROOT / "orchestrate.py"), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def killed_at(proc: subprocess.CompletedProcess, point: str) -> None:
    """The child died of SIGKILL at exactly this point."""
    assert proc.returncode == -9, (proc.returncode, proc.stderr[-3000:])
    assert f"FAULT {point}: kill" in proc.stderr


def copy_state(src: Path, dst: Path) -> Path:
    """A copy of an FA database and its artifacts (no process has them open)."""
    dst.mkdir(parents=True)
    for name in ("fa.duckdb", "fa.duckdb.wal"):
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    if (src / "artifacts").exists():
        shutil.copytree(src / "artifacts", dst / "artifacts")
    return dst


def rows_of_day(db_file: Path, table: str, day: str) -> list[tuple]:
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        return con.execute(f"SELECT * EXCLUDE (scored_at) FROM dbo.{table} WHERE Score_Date = ? "
                           "ORDER BY ALL" if table.endswith("_ML") else
                           f"SELECT * FROM dbo.{table} WHERE Score_Date = ? ORDER BY ALL", [day]).fetchall()
    finally:
        con.close()


def assert_same_tables(clean: Path, healed: Path) -> None:
    """Same set of tables (no leftover __dbt_tmp/__dbt_backup), same content in each,
    dbt's int_* working tables included (both sides ran the same last command)."""
    a, b = table_hashes(clean / "fa.duckdb"), table_hashes(healed / "fa.duckdb")
    assert sorted(a) == sorted(b), "a leftover or missing table"
    diff = {t: (a[t], b[t]) for t in a if a[t] != b[t]}
    assert not diff, diff
    assert any(t.startswith("CD_FA_") or t.startswith("FA_MODEL") for t in a)


# ---- dbt: backfill and the daily build ----------------------------------------------------
@pytest.fixture(scope="module")
def dbt_world(tmp_path_factory):
    """A tiny demo source (60 depots x 100 days) and its clean backfill."""
    root = tmp_path_factory.mktemp("faults_dbt")
    clean = root / "clean"
    clean.mkdir()
    ok(run(clean, "demo-data", "--depots", "60", "--days", "100", "--seed", "11", "--end-date", END))
    # chunks of 3 months, as the killed backfill below: the intermediate tables of the last
    # chunk's range are compared too
    ok(run(clean, "backfill", "--start-date", START, "--end-date", END, "--chunk-months", "3"))
    return root, clean, clean / "src.duckdb"


def test_backfill_killed_inside_a_model_transaction_then_rerun(dbt_world):
    root, clean, source = dbt_world
    home = root / "backfill_killed"
    home.mkdir()
    # chunk 2 (its pre_hook DELETE has run): SIGKILL from a timer 50 ms after the INSERT is
    # sent, so it lands inside DuckDB executing or committing it, or just after
    point = "dbt.sql:fa_agg_buy:insert"
    killed_at(run(home, "backfill", "--start-date", START, "--end-date", END, "--chunk-months", "3",
                  fault=point + ":killafter0.05", source=source), point)
    ok(run(home, "backfill", "--start-date", START, "--end-date", END, "--chunk-months", "3",
           source=source))
    assert_same_tables(clean, home)


def test_daily_killed_in_its_dbt_step_twice_then_rerun(dbt_world):
    """The daily runner's dbt child (python -m ml.steps dbt) is killed twice, then the rerun heals.

    1st kill: inside the labels model's transaction, right after its pre_hook DELETE of the
    day (the delete+insert of the new rows is next): the day's labels must all still be
    there. 2nd kill: after the aggregate model committed, before the labels model ran.
    Each time the runner reports the killed step (exit 1, rerun advice). The rerun's dbt
    step completes; its score step stops with exit 3 (no model in this world) exactly as
    in the uninterrupted run it is compared with.
    """
    root, clean_backfill, source = dbt_world
    clean = copy_state(clean_backfill, root / "daily_clean")
    uninterrupted = run(clean, "daily", "--date", END, source=source)
    last = "Error: step 'score' failed (exit code 3); see its output above"
    assert uninterrupted.stderr.strip().splitlines()[-1] == last

    home = copy_state(clean_backfill, root / "daily_killed")
    labels_before = rows_of_day(home / "fa.duckdb", "CD_FA_LABELS_DEMO", END)
    assert labels_before
    for point, shown in (("dbt.sql:fa_labels:delete@2", "dbt.sql:fa_labels:delete"),
                         ("dbt.done:fa_agg_buy", "dbt.done:fa_agg_buy")):
        out = run(home, "daily", "--date", END, fault=point, source=source)
        assert out.returncode == 1, out.stderr[-2000:]
        assert f"FAULT {shown}: kill" in out.stderr
        assert out.stderr.strip().splitlines()[-1] == (
            "Error: step 'dbt' was killed by signal 9; rerun the same command")
        # the killed transaction left no trace: the day's labels are still all there
        assert rows_of_day(home / "fa.duckdb", "CD_FA_LABELS_DEMO", END) == labels_before
    # the parent runner logged both killed steps (FA_RUN_LOG), with the daily's own rows
    assert run_log(home) == [("daily", "-", 1, "step 'dbt' was killed by signal 9; rerun the same command"),
                             ("daily", "dbt", 1, "step 'dbt' was killed by signal 9; rerun the same command")] * 2
    rerun = run(home, "daily", "--date", END, source=source)
    assert "<== dbt: ok" in rerun.stderr
    assert rerun.returncode == uninterrupted.returncode == 3
    assert rerun.stderr.strip().splitlines()[-1] == last
    assert_same_tables(clean, home)


def run_log(home: Path) -> list[tuple]:
    """(Command, Step, Exit_Code, Message) of the run log rows after the backfill, by run."""
    con = duckdb.connect(str(home / "fa.duckdb"), read_only=True)
    try:
        return con.execute("SELECT Command, Step, Exit_Code, Message FROM dbo.FA_RUN_LOG "
                           "WHERE Command <> 'backfill' ORDER BY Run_Id, Step").fetchall()
    finally:
        con.close()


def test_daily_step_past_its_time_limit_has_its_run_log_row(dbt_world):
    """The dbt child sleeps inside the aggregate model past its limit: the runner kills it,
    exits 7 and logs the step (the child itself could not)."""
    root, clean_backfill, source = dbt_world
    home = copy_state(clean_backfill, root / "daily_timeout")
    config = home / "fund.yml"
    config.write_text((ROOT / "config" / "fund.yml").read_text(encoding="utf-8").split("\ntimeouts_seconds:")[0]
                      + "\ntimeouts_seconds:\n  dbt: 30\n", encoding="utf-8")
    out = run(home, "daily", "--date", END, fault="dbt.start:fa_agg_buy:sleep300", source=source, config=config)
    assert out.returncode == 7, out.stderr[-2000:]
    message = ("step 'dbt' exceeded its time limit of 30 s and was stopped; rerun, "
               "or raise timeouts_seconds.dbt in FA_CONFIG")
    assert out.stderr.strip().splitlines()[-1] == "Error: " + message
    assert run_log(home) == [("daily", "-", 7, message), ("daily", "dbt", 7, message)]


# ---- score and registry (synthetic aggregate tables, no dbt) --------------------------------
@pytest.fixture(scope="module")
def ml_world(tmp_path_factory):
    """Aggregates + labels, model v1 trained, v2 trained and promoted, day END scored."""
    root = tmp_path_factory.mktemp("faults_ml")
    base = root / "base"
    base.mkdir()
    synthetic_world.write_tables(base / "fa.duckdb", depots=150, days=300)
    ok(run(base, *TRAIN))
    ok(run(base, *TRAIN[:-4], "--n-estimators", "40", "--max-depth", "3", "--n-boot", "0", "--promote"))
    ok(run(base, "score", "--date", END))
    con = duckdb.connect(str(base / "fa.duckdb"), read_only=True)
    versions = [r[0] for r in con.execute(
        "SELECT DISTINCT Version FROM dbo.FA_MODEL_REGISTRY ORDER BY 1").fetchall()]
    con.close()
    assert len(versions) == 2
    return root, base, versions


def test_score_killed_between_delete_and_insert(ml_world):
    root, base, _ = ml_world
    clean = copy_state(base, root / "score_clean")
    ok(run(clean, "score", "--date", END))
    home = copy_state(base, root / "score_killed")
    before = rows_of_day(home / "fa.duckdb", "CD_FA_BUY_DEMO_ML", END)
    assert before
    point = "db.replace:CD_FA_BUY_DEMO_ML"
    killed_at(run(home, "score", "--date", END, fault=point), point)
    assert rows_of_day(home / "fa.duckdb", "CD_FA_BUY_DEMO_ML", END) == before  # DELETE undone
    ok(run(home, "score", "--date", END))
    assert_same_tables(clean, home)


def test_score_killed_inside_the_reasons_write_keeps_old_scores_and_reasons(ml_world):
    """Scores and reason codes are one transaction: a kill between the reasons' DELETE and
    INSERT (the day's new scores already inserted) leaves both tables as they were."""
    root, base, _ = ml_world
    clean = copy_state(base, root / "reasons_clean")
    ok(run(clean, "score", "--date", END))
    home = copy_state(base, root / "reasons_killed")
    before = {t: rows_of_day(home / "fa.duckdb", t, END) for t in ("CD_FA_BUY_DEMO_ML", "CD_FA_BUY_DEMO_REASONS")}
    assert all(before.values())
    point = "db.replace:CD_FA_BUY_DEMO_REASONS"
    killed_at(run(home, "score", "--date", END, fault=point), point)
    assert {t: rows_of_day(home / "fa.duckdb", t, END) for t in before} == before
    ok(run(home, "score", "--date", END))
    assert_same_tables(clean, home)


def test_registry_rollback_and_promote_killed_between_horizons(ml_world):
    root, base, (v1, v2) = ml_world
    point = "registry.set_active@2"  # T7 done, T14 next, all in one transaction
    clean = copy_state(base, root / "rollback_clean")
    ok(run(clean, "registry", "rollback"))
    home = copy_state(base, root / "rollback_killed")
    killed_at(run(home, "registry", "rollback", fault=point), "registry.set_active")
    assert table_hashes(home / "fa.duckdb") == table_hashes(base / "fa.duckdb")  # nothing half-done
    ok(run(home, "registry", "rollback"))
    assert_same_tables(clean, home)

    # promote v2 again, from the rolled-back state
    promoted = copy_state(clean, root / "promote_clean")
    ok(run(promoted, "registry", "promote", v2))
    home = copy_state(clean, root / "promote_killed")
    killed_at(run(home, "registry", "promote", v2, fault=point), "registry.set_active")
    ok(run(home, "registry", "promote", v2))
    assert_same_tables(promoted, home)


@pytest.mark.parametrize("point", ["artifacts.write@2", "registry.set_active@2"])
def test_train_killed_leaves_the_registry_as_it_was(ml_world, point):
    """A version is registered and activated all at once or not at all; a half-written
    artifact folder never carries a version's name. The rerun trains and scores normally."""
    root, base, versions = ml_world
    home = copy_state(base, root / f"train_{point.replace('@', '_').replace('.', '_')}")
    killed_at(run(home, *TRAIN, "--promote", fault=point), point.split("@")[0])
    assert table_hashes(home / "fa.duckdb") == table_hashes(base / "fa.duckdb")
    # every artifact folder under a name the registry could point to is complete; the
    # interrupted one is still a dot-named temporary folder
    for folder in (home / "artifacts" / "DEMO").glob("*/T*"):
        assert sorted(f.name for f in folder.iterdir()) == [
            "booster.ubj", "calibrator.json", "drift.json", "features.json", "metrics.json"]
    if point.startswith("artifacts"):
        assert list((home / "artifacts" / "DEMO").glob("*/.T*.tmp*"))
        return  # one rerun is enough to show the registry heals (keeps the file fast)
    ok(run(home, *TRAIN, "--promote"))
    ok(run(home, "score", "--date", END))
    con = duckdb.connect(str(home / "fa.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM dbo.FA_MODEL_REGISTRY").fetchall()[0][0] == 9
    con.close()
