"""FA_CONFIG and environment validation: every bad input is one clear BadInput."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.config import load_settings, parse_date, parse_horizons
from ml.errors import BadInput

GOOD = """
target:
  code: DEMO
  isins: [LU000DEMO015, LU000DEMO023]
  min_ticket_eur: 1000
  horizons: [7, 14, 30]
"""


def settings_from(tmp_path: Path, text: str, **env: str):
    cfg = tmp_path / "fund.yml"
    cfg.write_text(text, encoding="utf-8")
    return load_settings({"FA_CONFIG": str(cfg), **env})


def test_default_config_loads_and_names_tables():
    s = load_settings({})
    assert s.target.code == "DEMO"
    assert s.target.horizons == (7, 14, 30)
    assert s.agg_table == "CD_FA_AGG_BUY_DEMO"
    assert s.labels_table == "CD_FA_LABELS_DEMO"
    assert s.scores_table == "CD_FA_BUY_DEMO_ML"


def test_relative_paths_resolve_from_project_root(tmp_path):
    s = settings_from(tmp_path, GOOD, FA_DUCKDB_PATH="data/x.duckdb", FA_ART_DIR=str(tmp_path / "a"))
    assert s.duckdb_path.is_absolute() and s.duckdb_path.parts[-2:] == ("data", "x.duckdb")
    assert s.art_dir == tmp_path / "a"


@pytest.mark.parametrize(
    "text, message",
    [
        ("target: [", "is not valid YAML"),
        ("- just\n- a list\n", "must hold a mapping"),
        ("other: 1\n", "missing key 'target'"),
        ("target:\n  isins: [LU000DEMO015]\n", "missing key 'code'"),
        ("target:\n  code: demo\n  isins: [LU000DEMO015]\n", "target.code must match"),
        ("target:\n  code: \"X; DROP TABLE y\"\n  isins: [LU000DEMO015]\n", "target.code must match"),
        ("target:\n  code: DEMO\n  isins: []\n", "target.isins must be a non-empty list"),
        ("target:\n  code: DEMO\n  isins: LU000DEMO015\n", "target.isins must be a non-empty list"),
        ("target:\n  code: DEMO\n  isins: [\"LU000DEMO01'\"]\n", "malformed ISIN"),
        ("target:\n  code: DEMO\n  isins: [LU000DEMO015]\n  min_ticket_eur: -5\n", "min_ticket_eur"),
        ("target:\n  code: DEMO\n  isins: [LU000DEMO015]\n  horizons: [7, 0]\n", "not a horizon"),
        ("target:\n  code: DEMO\n  isins: [LU000DEMO015]\n  horizons: []\n", "non-empty list"),
        (GOOD + "  house_isins: LU000DEMO031\n", "house_isins must be a list"),
        (GOOD + "  house_isins: [LU000DEMO03X]\n", "malformed ISIN 'LU000DEMO03X' in target.house_isins"),
        (GOOD + "  house_isins: [LU000DEMO031, LU000DEMO023]\n",
         r"house_isins must not contain target ISINs \(LU000DEMO023\)"),
        (GOOD + "qc:\n  null_share_max: 3\n", "qc.null_share_max"),
        (GOOD + "qc:\n  holidays: 2025-12-25\n", "qc.holidays must be a list"),
        (GOOD + "qc:\n  holidays: [2025-13-01]\n", "holds an impossible date"),
        (GOOD + "qc:\n  holidays: [25.12.2025]\n", "qc.holidays: '25.12.2025' is not a date"),
        (GOOD + "qc:\n  max_file_age_business_days: -1\n", "qc.max_file_age_business_days"),
        (GOOD + "qc:\n  psi_warning: 0.3\n  psi_alert: 0.2\n", "qc.psi_alert must not be below"),
        (GOOD + "qc:\n  min_ap_share: 2\n", "qc.min_ap_share"),
        (GOOD + "duckdb:\n  memory_limit: lots\n", "duckdb.memory_limit"),
        (GOOD + "timeouts_seconds:\n  dbt: -1\n", "timeouts_seconds.dbt"),
        (GOOD + "backfill:\n  chunk_rows: 0\n", "backfill.chunk_rows"),
        (GOOD + "backfill:\n  chunk_rows: many\n", "backfill.chunk_rows"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, text, message):
    with pytest.raises(BadInput, match=message):
        settings_from(tmp_path, text)


def test_house_isins_optional_sorted_and_passed_to_dbt(tmp_path):
    assert settings_from(tmp_path, GOOD).target.house_isins == ()
    assert settings_from(tmp_path, GOOD + "  house_isins: []\n").target.house_isins == ()
    s = settings_from(tmp_path, GOOD + "  house_isins: [LU000DEMO049, LU000DEMO031, LU000DEMO049]\n")
    assert s.target.house_isins == ("LU000DEMO031", "LU000DEMO049")
    assert s.target.dbt_vars()["house_isins"] == ["LU000DEMO031", "LU000DEMO049"]
    assert load_settings({}).target.house_isins == ("LU000DEMO031", "LU000DEMO049", "LU000DEMO056")


def test_missing_config_file(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        load_settings({"FA_CONFIG": str(tmp_path / "nope.yml")})


def test_unknown_engine(tmp_path):
    with pytest.raises(BadInput, match="FA_ENGINE must be one of"):
        settings_from(tmp_path, GOOD, FA_ENGINE="oracle")


def test_horizons_parse_sort_and_dedupe():
    assert parse_horizons("30,7,14,7") == (7, 14, 30)
    assert parse_horizons([14]) == (14,)
    for bad in ("7,x", "", "7,,14", "-7", "400"):
        with pytest.raises(BadInput):
            parse_horizons(bad)


def test_parse_date_names_the_option():
    assert str(parse_date("2024-02-29", "--date")) == "2024-02-29"
    with pytest.raises(BadInput) as exc:
        parse_date("2023-02-29", "--date")
    assert str(exc.value) == "--date: '2023-02-29' is not a date (expected YYYY-MM-DD)"


def test_qc_calendar_and_monitor_settings(tmp_path):
    s = settings_from(tmp_path, GOOD + "qc:\n  holidays: [2025-12-26, '2025-12-25']\n  monitor_days: 7\n")
    assert [d.isoformat() for d in s.qc.holidays] == ["2025-12-25", "2025-12-26"]
    assert s.qc.monitor_days == 7 and s.qc.max_file_age_business_days == 1 and s.qc.psi_alert == 0.25
    # the shipped config carries the demo calendar's holidays (Good Friday, Christmas 2025)
    default = load_settings({})
    assert {"2025-04-18", "2025-12-25"} <= {d.isoformat() for d in default.qc.holidays}
