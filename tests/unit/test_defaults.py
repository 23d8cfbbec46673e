"""Defaults live once: in the dataclass fields of ml/config.py (and ml/db_sqlserver.py).

load_settings takes every default it does not read from FA_CONFIG or the environment
from those fields. The copies that must remain (dbt's profiles read environment
variables with a fallback, config/fund.yml shows the defaults, dbt_project.yml's
source_database var) are parsed here and compared with the fields, so they cannot drift.
"""

from __future__ import annotations

import os
import re
from dataclasses import fields, replace
from datetime import date
from pathlib import Path

import pytest
import yaml

from ml.config import (DBT_PROJECT_DIR, DEFAULT_CONFIG, PROJECT_ROOT, QCThresholds, Settings, TargetFund,
                       default_of, load_settings)
from ml.db_sqlserver import SqlServerConfig, encrypt_option

MINIMAL = "target:\n  code: DEMO\n  isins: [LU000DEMO015]\n"
# Settings fields that do not come from the optional blocks of FA_CONFIG
NOT_DEFAULTS = {"target", "targets", "config_path"}


def load(tmp_path: Path, text: str, **env: str) -> Settings:
    cfg = tmp_path / "fund.yml"
    cfg.write_text(text, encoding="utf-8")
    return load_settings({"FA_CONFIG": str(cfg), **env})


def defaults() -> dict:
    return {f.name: default_of(Settings, f.name) for f in fields(Settings) if f.name not in NOT_DEFAULTS}


def loaded(s: Settings) -> dict:
    return {f.name: getattr(s, f.name) for f in fields(Settings) if f.name not in NOT_DEFAULTS}


@pytest.mark.parametrize("extra", ["", "qc:\nduckdb: {}\nsqlserver: {}\nbackfill:\ntimeouts_seconds: {}\n"])
def test_an_empty_config_gives_exactly_the_dataclass_defaults(tmp_path, extra):
    s = load(tmp_path, MINIMAL + extra)
    assert loaded(s) == defaults()
    assert s.qc == QCThresholds()
    assert s.target == TargetFund(code="DEMO", isins=("LU000DEMO015",))


def test_empty_path_variables_are_the_defaults(tmp_path):
    s = load(tmp_path, MINIMAL, FA_SOURCE_DB="", FA_DUCKDB_PATH="", FA_ART_DIR="", FA_ENGINE="")
    assert loaded(s) == defaults()


# (FA_CONFIG text, the Settings field it sets, the value it must have): one per key
OVERRIDES = [
    ("qc:\n  pos_rate_deviation: 0.3\n", "qc", QCThresholds(pos_rate_deviation=0.3)),
    ("qc:\n  pos_rate_median_days: 7\n", "qc", QCThresholds(pos_rate_median_days=7)),
    ("qc:\n  null_share_max: 0.9\n", "qc", QCThresholds(null_share_max=0.9)),
    ("qc:\n  holidays: [2025-12-25]\n", "qc", QCThresholds(holidays=(date(2025, 12, 25),))),
    ("qc:\n  max_file_age_business_days: 0\n", "qc", QCThresholds(max_file_age_business_days=0)),
    ("qc:\n  monitor_days: 3\n", "qc", QCThresholds(monitor_days=3)),
    ("qc:\n  min_ap_share: 0.7\n", "qc", QCThresholds(min_ap_share=0.7)),
    ("qc:\n  min_lift_share: 0.6\n", "qc", QCThresholds(min_lift_share=0.6)),
    ("qc:\n  psi_warning: 0.2\n", "qc", QCThresholds(psi_warning=0.2)),
    ("qc:\n  psi_alert: 0.5\n", "qc", QCThresholds(psi_alert=0.5)),
    ("duckdb:\n  memory_limit: 1GB\n", "duckdb_memory_limit", "1GB"),
    ("duckdb:\n  threads: 3\n", "duckdb_threads", 3),
    ("sqlserver:\n  write_chunk_size: 500\n", "write_chunk_size", 500),
    ("backfill:\n  chunk_rows: 1000\n", "backfill_chunk_rows", 1000),
    ("timeouts_seconds:\n  score: 5\n", "timeouts", {"dbt": 3600, "score": 5, "qc": 300}),
    ("timeouts_seconds:\n  report: 60\n", "timeouts", {"dbt": 3600, "score": 900, "qc": 300, "report": 60}),
]


@pytest.mark.parametrize("text, name, value", OVERRIDES, ids=[t.split("\n")[1].strip() for t, _, _ in OVERRIDES])
def test_each_key_given_overrides_its_default_only(tmp_path, text, name, value):
    got = loaded(load(tmp_path, MINIMAL + text))
    assert got == {**defaults(), name: value}


def test_every_optional_key_has_an_override_case():
    from ml.config import QC_CHECKS, SETTINGS_CHECKS

    covered = {t.split("\n")[1].strip().split(":")[0] for t, _, _ in OVERRIDES}
    assert set(QC_CHECKS) | {k for spec in SETTINGS_CHECKS.values() for k in spec} <= covered
    assert {name for spec in SETTINGS_CHECKS.values() for name, _ in spec.values()} | {"qc", "timeouts"} \
        == {n for _, n, _ in OVERRIDES}


def test_environment_overrides_the_paths_and_engine(tmp_path):
    s = load(tmp_path, MINIMAL, FA_SOURCE_DB=str(tmp_path / "s.duckdb"), FA_DUCKDB_PATH="x/fa.duckdb",
             FA_ART_DIR=str(tmp_path / "a"), FA_ENGINE="SQLServer")
    assert loaded(s) == {**defaults(), "source_db": tmp_path / "s.duckdb",
                         "duckdb_path": PROJECT_ROOT / "x" / "fa.duckdb", "art_dir": tmp_path / "a",
                         "engine": "sqlserver"}


def test_target_defaults_are_the_dataclass_ones(tmp_path):
    t = load(tmp_path, MINIMAL).target
    assert (t.min_ticket_eur, t.horizons) == (default_of(TargetFund, "min_ticket_eur"),
                                              default_of(TargetFund, "horizons"))


def test_the_shipped_config_shows_the_defaults():
    """config/fund.yml: 'Everything below is optional; the values shown are the defaults'."""
    s = load_settings({})
    assert s.qc.holidays  # the demo calendar, the one value that is not a default
    assert loaded(replace(s, qc=replace(s.qc, holidays=()))) == defaults()
    target = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))["target"]
    assert (target["min_ticket_eur"], tuple(target["horizons"])) == (
        default_of(TargetFund, "min_ticket_eur"), default_of(TargetFund, "horizons"))


# ---- dbt's profiles: env_var('NAME', 'fallback') --------------------------------------
ENV_VAR = re.compile(r"env_var\(\s*'(\w+)'\s*(?:,\s*'([^']*)'\s*)?\)")


def fallbacks(node) -> dict[str, str | None]:
    """Every env_var of a profile output (nested), name -> fallback text (None: none)."""
    if isinstance(node, dict):
        return {k: v for value in node.values() for k, v in fallbacks(value).items()}
    if isinstance(node, list):
        return {k: v for value in node for k, v in fallbacks(value).items()}
    return dict(ENV_VAR.findall(str(node))) if isinstance(node, str) else {}


def profile(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["first_buy"]


def test_duckdb_profile_fallbacks_equal_the_settings_defaults():
    prof = profile(DBT_PROJECT_DIR / "profiles.yml")
    got = fallbacks(prof["outputs"]["duckdb"])
    assert set(got) == {"FA_DUCKDB_PATH", "FA_DUCKDB_MEMORY_LIMIT", "FA_DUCKDB_THREADS", "FA_SOURCE_DB"}
    # relative fallbacks are from dbt_project/ (dbt's current directory when run by hand)
    assert (DBT_PROJECT_DIR / got["FA_DUCKDB_PATH"]).resolve() == default_of(Settings, "duckdb_path")
    assert (DBT_PROJECT_DIR / got["FA_SOURCE_DB"]).resolve() == default_of(Settings, "source_db")
    assert got["FA_DUCKDB_MEMORY_LIMIT"] == default_of(Settings, "duckdb_memory_limit")
    assert int(got["FA_DUCKDB_THREADS"]) == default_of(Settings, "duckdb_threads")
    assert fallbacks(prof["target"]) == {"FA_DBT_TARGET": default_of(Settings, "engine")}


@pytest.mark.parametrize("path", ["dbt_project/profiles.yml", "profiles.yml.example"])
def test_sqlserver_profile_fallbacks_equal_the_sqlserver_config_defaults(path):
    got = fallbacks(profile(PROJECT_ROOT / path)["outputs"]["sqlserver"])
    yes = {"1", "true", "yes", "y", "on"}  # the profiles' `| lower in [...]`
    assert got["FA_SQLSERVER_DRIVER"] == default_of(SqlServerConfig, "driver")
    assert int(got["FA_SQLSERVER_PORT"]) == default_of(SqlServerConfig, "port")
    assert got["FA_SQLSERVER_DATABASE"] == default_of(SqlServerConfig, "database")
    assert int(got["FA_SQLSERVER_LOGIN_TIMEOUT"]) == default_of(SqlServerConfig, "login_timeout")
    assert encrypt_option(got["FA_SQLSERVER_ENCRYPT"]) == default_of(SqlServerConfig, "encrypt")
    assert (got["FA_SQLSERVER_TRUSTED_CONNECTION"] in yes) == default_of(SqlServerConfig, "trusted_connection")
    assert (got["FA_SQLSERVER_TRUST_CERT"] in yes) == default_of(SqlServerConfig, "trust_cert")


def test_dbt_source_database_var_equals_the_sqlserver_default():
    vars_ = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    assert vars_["source_database"] == default_of(SqlServerConfig, "source_database")


def test_python_passes_every_duckdb_profile_variable_to_dbt(monkeypatch, tmp_path):
    """The profile's fallbacks are for a hand-run dbt only: ml.dbt.export_env sets each one."""
    from ml.dbt import export_env

    prof = profile(DBT_PROJECT_DIR / "profiles.yml")
    names = set(fallbacks(prof["outputs"]["duckdb"])) | set(fallbacks(prof["target"]))
    for name in names | {"DBT_SEND_ANONYMOUS_USAGE_STATS"}:
        monkeypatch.setenv(name, "")  # so that monkeypatch removes what export_env sets
        monkeypatch.delenv(name)
    s = load(tmp_path, MINIMAL)
    export_env(s)
    assert {n: os.environ.get(n) for n in names} == {
        "FA_DUCKDB_PATH": str(s.duckdb_path), "FA_SOURCE_DB": str(s.source_db),
        "FA_DUCKDB_MEMORY_LIMIT": s.duckdb_memory_limit, "FA_DUCKDB_THREADS": str(s.duckdb_threads),
        "FA_DBT_TARGET": s.engine}


def test_default_of_names_a_missing_default():
    assert default_of(Settings, "timeouts") is not default_of(Settings, "timeouts")  # a fresh dict
    with pytest.raises(KeyError, match="Settings.target has no default"):
        default_of(Settings, "target")


def test_a_contradicting_duckdb_variable_is_replaced_and_said_so(monkeypatch, tmp_path, capsys):
    """FA_CONFIG's duckdb block is the one setting: a leftover FA_DUCKDB_MEMORY_LIMIT does
    not apply to orchestrate.py's runs, and the operator is told on stderr."""
    from ml.dbt import export_env

    s = load(tmp_path, MINIMAL)
    monkeypatch.setenv("FA_DUCKDB_MEMORY_LIMIT", "7GB")
    monkeypatch.setenv("FA_DUCKDB_THREADS", str(s.duckdb_threads))  # the same: no warning
    export_env(s)
    assert os.environ["FA_DUCKDB_MEMORY_LIMIT"] == s.duckdb_memory_limit != "7GB"
    err = capsys.readouterr().err.splitlines()
    assert err == [f"warning: FA_DUCKDB_MEMORY_LIMIT=7GB is replaced by FA_CONFIG duckdb.memory_limit "
                   f"= {s.duckdb_memory_limit} (set it there; docs/operations.md)"]
