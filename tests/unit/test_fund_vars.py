"""dbt_project.yml's default `fund` var must equal config/fund.yml's target block.

orchestrate.py always passes the fund as a var, but a direct `dbt build` (docs/dbt.md)
uses the defaults: they must describe the same fund.
"""

from __future__ import annotations

import yaml

from ml.config import DBT_PROJECT_DIR, DEFAULT_CONFIG


def _load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_dbt_fund_var_defaults_equal_config_target():
    fund = _load(DBT_PROJECT_DIR / "dbt_project.yml")["vars"]["fund"]
    target = _load(DEFAULT_CONFIG)["target"]
    assert fund["code"] == target["code"]
    assert sorted(fund["isins"]) == sorted(target["isins"])
    assert float(fund["min_ticket_eur"]) == float(target["min_ticket_eur"])
    assert sorted(fund["horizons"]) == sorted(target["horizons"])
    assert sorted(fund.get("house_isins") or []) == sorted(target.get("house_isins") or [])


def test_dbt_project_declares_range_and_source_vars():
    vars_ = _load(DBT_PROJECT_DIR / "dbt_project.yml")["vars"]
    assert vars_["start_date"] is None and vars_["end_date"] is None
    assert vars_["source_database"] == "Provisionen"
    assert vars_["source_schema"] == "dbo"
