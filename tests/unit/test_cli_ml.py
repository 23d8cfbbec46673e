"""CLI of train / score / registry: exit codes and the exact Error line."""

import shutil
from datetime import date

import pytest
from click.testing import CliRunner

import synthetic_world
from orchestrate import cli

TRAIN = ["train", "--horizons", "7,14,30", "--train-start", "2024-10-25", "--train-end", "2025-06-10",
         "--test-start", "2025-06-11", "--test-end", "2025-07-21", "--n-estimators", "100", "--n-boot", "0"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    monkeypatch.setenv("FA_ART_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "src.duckdb"))
    monkeypatch.delenv("FA_CONFIG", raising=False)
    return tmp_path


def run(*args):
    return CliRunner().invoke(cli, list(args))


def last_line(result):
    return result.output.strip().splitlines()[-1]


def test_bad_date_is_exit_2(env):
    r = run("train", "--train-start", "2025-13-01", "--train-end", "2025-06-10",
            "--test-start", "2025-06-11", "--test-end", "2025-07-21")
    assert r.exit_code == 2
    assert last_line(r) == "Error: --train-start: '2025-13-01' is not a date (expected YYYY-MM-DD)"


def test_unconfigured_horizon_is_exit_2(env):
    r = run(*TRAIN[:2], "7,60", *TRAIN[3:])
    assert r.exit_code == 2
    assert last_line(r) == "Error: --horizons: 60 not configured (FA_CONFIG target.horizons: 7, 14, 30)"


def test_missing_tables_are_exit_3(env):
    r = run(*TRAIN)
    assert r.exit_code == 3
    assert last_line(r) == ("Error: table dbo.CD_FA_AGG_BUY_DEMO does not exist: "
                            "run 'python orchestrate.py backfill' first")


def test_train_score_and_the_errors_after(env):
    synthetic_world.write_tables(env / "fa.duckdb")
    r = run("score")
    assert r.exit_code == 3
    assert last_line(r) == "Error: no active model for DEMO horizon 7: run 'python orchestrate.py train' first"

    r = run(*TRAIN)
    assert r.exit_code == 0, r.output
    assert "activated (first model)" in r.output

    r = run("score", "--date", "2025-08-20")
    assert r.exit_code == 0, r.output
    assert "rows_scored" in r.output

    r = run("score", "--date", "2030-01-01")
    assert r.exit_code == 3
    assert last_line(r) == ("Error: no aggregate rows for Score_Date 2030-01-01: run 'python orchestrate.py "
                            "backfill --start-date 2030-01-01 --end-date 2030-01-01' (or daily) first")

    r = run("registry", "list")
    assert r.exit_code == 0 and r.output.count("yes") == 3

    r = run("registry", "rollback")
    assert r.exit_code == 3
    assert last_line(r) == "Error: nothing to roll back to for DEMO horizon 7 (no earlier active model)"

    r = run("registry", "promote", "19990101T000000Z-abcdef")
    assert r.exit_code == 2
    assert last_line(r) == ("Error: no registered model version 19990101T000000Z-abcdef for DEMO "
                            "(see 'registry list')")

    cal = next((env / "artifacts").rglob("T30/calibrator.json"))
    cal.write_text(cal.read_text().replace("[", "[ ", 1))
    r = run("score")
    assert r.exit_code == 3
    assert last_line(r) == (f"Error: artifact {cal} of model {cal.parent.parent.name} T30 was altered "
                            "(sha256 differs from the registry); restore it or retrain")


def test_window_without_labels_is_exit_3(env):
    synthetic_world.write_tables(env / "fa.duckdb", depots=50, days=300)
    r = run("train", "--horizons", "30", "--train-start", "2024-11-01", "--train-end", "2025-08-01",
            "--test-start", "2025-08-02", "--test-end", "2025-08-20")
    assert r.exit_code == 3
    assert last_line(r) == (
        "Error: no labelled rows for T30 in the test part [2025-08-02, 2025-08-20] (after purge gaps; "
        "a label is complete only when D+T <= the data horizon): run 'python orchestrate.py backfill' "
        "for these dates or choose other windows")


def test_eval_and_qc_cli(env, monkeypatch):
    # The synthetic world's last-day non-buyers (~100 depots) really differ from the
    # training population (buyers leave it): PSI of CancelRate_30d ~0.3. Drift has its own
    # tests (test_qc_monitor_cli.py); here PSI alerts are set out of reach.
    config = env / "fund.yml"
    config.write_text("target:\n  code: DEMO\n  isins: [LU000DEMO015, LU000DEMO023]\n"
                      "qc:\n  psi_warning: 100\n  psi_alert: 100\n", encoding="utf-8")
    monkeypatch.setenv("FA_CONFIG", str(config))
    synthetic_world.write_tables(env / "fa.duckdb")
    assert run(*TRAIN).exit_code == 0
    r = run("qc")   # nothing scored yet: the latest day's scores are 100 % missing
    assert r.exit_code == 5
    assert "ALERT null_share: 2025-08-20: 100% of Pre_First_Target rows have no score" in r.output
    assert last_line(r) == ("Error: QC raised 1 alert(s): null_share: 2025-08-20: 100% of "
                            "Pre_First_Target rows have no score")
    assert run("score").exit_code == 0
    r = run("qc")
    assert r.exit_code == 0, r.output
    assert "alerts: 0" in r.output

    r = run("eval", "--horizons", "7,30", "--start", "2025-06-11", "--end", "2025-08-20", "--n-boot", "0")
    assert r.exit_code == 0, r.output
    r = run("eval", "--horizons", "30", "--start", "2025-08-15", "--end", "2025-08-20")
    assert r.exit_code == 3
    assert last_line(r) == ("Error: no label-complete rows for T30 in [2025-08-15, 2025-08-20] "
                            "(labels are complete up to D + 30 <= 2025-08-20)")
    r = run("eval", "--horizons", "7", "--start", "2025-06-11", "--end", "2025-08-20", "--version", "nope")
    assert r.exit_code == 2 and last_line(r) == "Error: --version nope is not registered for DEMO horizon 7"
    r = run("eval", "--start", "2025-08-20", "--end", "2025-08-15")
    assert r.exit_code == 2 and last_line(r) == "Error: --start must not be after --end"


def test_too_short_training_window_names_the_minimum(env):
    # 2025-01-01 .. 2025-05-21 is 141 days: enough for T7 (125) and T14 (132), not T30 (148)
    args = ["train", "--train-start", "2025-01-01", "--train-end", "2025-05-21",
            "--test-start", "2025-05-22", "--test-end", "2025-06-30"]
    r = run(*args, "--horizons", "7,14,30")
    assert r.exit_code == 2
    assert last_line(r) == ("Error: the training window has 141 days; horizon 30 needs at least 148 "
                            "(28 fit + 30 purge + 90 calibration)")
    r = run(*args, "--horizons", "7,14")     # accepted; then fails on the missing tables (exit 3)
    assert r.exit_code == 3 and "does not exist" in last_line(r)
