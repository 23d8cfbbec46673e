"""Freshness end to end: a demo world delivered up to 2025-08-20, run for later days."""

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestrate import cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fresh")
    config = root / "fund.yml"
    # A 150-depot world is too small for PSI (a few hundred rows a day against a training
    # window that starts on the world's first day): drift has its own tests. Weekends and
    # the holidays below must not count as missing days.
    config.write_text((ROOT / "config" / "fund.yml").read_text(encoding="utf-8").split("\nqc:")[0]
                      + "\nqc:\n  psi_warning: 100\n  psi_alert: 100\n  holidays: [2025-08-21, 2025-08-22]\n",
                      encoding="utf-8")
    env = {"FA_DUCKDB_PATH": str(root / "fa.duckdb"), "FA_ART_DIR": str(root / "artifacts"),
           "FA_SOURCE_DB": str(root / "src.duckdb"), "FA_CONFIG": str(config),
           "DBT_TARGET_PATH": str(root / "dbt_target"), "DBT_LOG_PATH": str(root / "dbt_logs"),
           "OMP_WAIT_POLICY": "PASSIVE"}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    demo = CliRunner().invoke(cli, ["demo", "--depots", "150", "--days", "300", "--n-boot", "0"])
    yield root, config, demo
    mp.undo()


def run(*args):
    return CliRunner().invoke(cli, list(args))


def last_line(result):
    return result.output.strip().splitlines()[-1]


def test_missing_business_days_make_daily_exit_5_naming_them(world):
    root, config, demo = world
    assert demo.exit_code == 0, demo.output[-3000:]          # delivered up to the run day: quiet
    # Sunday 08-24 after configured holidays on Thursday and Friday: nothing is missing
    r = run("qc", "--date", "2025-08-24")
    assert r.exit_code == 0, r.output[-2000:]
    assert "freshness: latest files U 2025-08-20 (0 business days behind)" in r.output

    # without those holidays, Monday 08-25 misses three business days of both file types
    config.write_text(config.read_text(encoding="utf-8").replace("  holidays: [2025-08-21, 2025-08-22]\n", ""),
                      encoding="utf-8")
    r = run("daily", "--date", "2025-08-25")
    assert r.exit_code == 5, r.output[-3000:]
    assert last_line(r) == (
        "Error: QC raised 2 alert(s): freshness: no U file for 2025-08-21, 2025-08-22, 2025-08-25 "
        "(latest 2025-08-20); freshness: no B file for 2025-08-21, 2025-08-22, 2025-08-25 (latest 2025-08-20)")
    con = duckdb.connect(str(root / "fa.duckdb"), read_only=True)
    try:
        alerts = con.execute("SELECT Check_Name, Subject, Value FROM dbo.FA_QC_ALERTS "
                             "WHERE QC_Date = DATE '2025-08-25' ORDER BY Subject DESC").fetchall()
        steps = con.execute("SELECT Step, Exit_Code FROM dbo.FA_RUN_LOG WHERE Command = 'daily' "
                            "ORDER BY Started_Utc").fetchall()
        scored = con.execute("SELECT COUNT(*) FROM dbo.CD_FA_BUY_DEMO_ML WHERE Score_Date = DATE '2025-08-25'"
                             ).fetchall()[0][0]
    finally:
        con.close()
    assert alerts == [("freshness", "U", 3.0), ("freshness", "B", 3.0)]
    assert steps == [("-", 5), ("dbt", 0), ("score", 0), ("qc", 5)]
    assert scored > 0                                      # the run finished its steps first
