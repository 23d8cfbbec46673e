"""`orchestrate.py demo-data`: summary on success, click usage errors (exit 2) on bad input."""

from __future__ import annotations

import duckdb
from click.testing import CliRunner

from orchestrate import cli


def run(tmp_path, monkeypatch, *args: str):
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "src.duckdb"))
    return CliRunner().invoke(cli, ["demo-data", *args])


def test_small_world_is_written_and_summarised(tmp_path, monkeypatch):
    result = run(tmp_path, monkeypatch, "--depots", "50", "--days", "60")
    assert result.exit_code == 0, result.output
    summary = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert summary["path"] == str(tmp_path / "src.duckdb")
    assert summary["depots"] == "50" and summary["bad_rows"] == "yes"
    con = duckdb.connect(summary["path"], read_only=True)
    n = con.sql("select count(*) from dbo.cd_Saldo").fetchall()[0][0]
    con.close()
    assert n == int(summary["rows_cd_Saldo"]) > 0


def test_clean_flag_leaves_out_bad_rows(tmp_path, monkeypatch):
    result = run(tmp_path, monkeypatch, "--depots", "50", "--days", "60", "--clean")
    assert result.exit_code == 0, result.output
    summary = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert summary["bad_rows"] == "no"
    con = duckdb.connect(str(tmp_path / "src.duckdb"), read_only=True)
    nulls = con.sql("select count(*) from dbo.cd_Order where Transaction_Number is null "
                    "or Depot_Number is null or Order_Date is null").fetchall()[0][0]
    con.close()
    assert nulls == 0


def test_too_few_days_is_a_usage_error(tmp_path, monkeypatch):
    result = run(tmp_path, monkeypatch, "--days", "5")
    assert result.exit_code == 2
    assert not (tmp_path / "src.duckdb").exists()


def test_bad_end_date_names_the_option(tmp_path, monkeypatch):
    result = run(tmp_path, monkeypatch, "--depots", "50", "--end-date", "2025-13-01")
    assert result.exit_code == 2
    assert "Error: --end-date: '2025-13-01' is not a date (expected YYYY-MM-DD)" in \
        result.output.splitlines()
    assert not (tmp_path / "src.duckdb").exists()


def test_bad_hazard_profile_is_one_error_line(tmp_path, monkeypatch):
    result = run(tmp_path, monkeypatch, "--depots", "20", "--hazard-profile", "nope")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == \
        "Error: Invalid value for '--hazard-profile': 'nope' is not one of alt, default"
    assert not (tmp_path / "src.duckdb").exists()


def test_alt_profile_is_recorded_in_the_summary(tmp_path, monkeypatch):
    result = run(tmp_path, monkeypatch, "--depots", "30", "--days", "40", "--hazard-profile", "alt")
    assert result.exit_code == 0, result.output
    assert "hazard_profile       alt" in result.stdout.splitlines()
