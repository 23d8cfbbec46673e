"""Several funds in one FA database (docs/dbt.md, *Per fund*).

Two funds whose ISIN lists share one ISIN (and differ in the minimum ticket) run through a
backfill and then the daily dbt steps day after day in ONE database; each fund alone runs
the same sequence in a fresh database. Every table of a fund (the marts and every
fund-dependent intermediate table, <model>_<CODE>) must be identical, row for row, to its
fresh twin. Then one fund's ISIN list changes: its backfill in the shared database must
equal a fresh build with the new list, and the other fund's tables stay untouched.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from ml.config import load_settings

A = {"code": "FUNDA", "isins": ["LU000DEMO015", "LU000DEMO023"], "min_ticket_eur": 1000,
     "horizons": [7, 14, 30]}
B = {"code": "FUNDB", "isins": ["LU000DEMO023", "LU9VYB31AYC9"], "min_ticket_eur": 500,
     "horizons": [7, 14, 30]}
B_NEW = {**B, "isins": ["LU000DEMO023", "LU000DEMO031"]}
START, END = "2025-06-15", "2025-08-14"
DAYS = ["2025-08-15", "2025-08-18"]   # daily, day after day (a Friday and the Monday)
FUND_MODELS = {"CD_FA_AGG_BUY", "CD_FA_LABELS", "int_order_transactions", "int_order_signatures",
               "int_deltas_order_windows",
               "int_deltas_recency", "int_deltas_distinct_isins", "int_deltas_new_refs",
               "int_feature_state", "int_first_buy_dates", "int_holdings", "int_house_buys",
               "int_cooc_rates"}


def test_fund_tags_are_the_closure_of_fund(tmp_path, monkeypatch):
    """A model is per fund (tag fund, named <model>_<CODE>) exactly when it calls fund() or
    reads a per-fund model: a shared model reading a per-fund one would mix the funds."""
    from ml.dbt import parse_manifest

    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    manifest = parse_manifest(load_settings({}))
    models = {k: n for k, n in manifest.nodes.items() if n.resource_type == "model"}
    need = {k for k, n in models.items() if "macro.first_buy.fund" in n.depends_on.macros}
    grew = True
    while grew:
        more = {k for k, n in models.items() if set(n.depends_on.nodes) & need} - need
        need |= more
        grew = bool(more)
    tagged = {k for k, n in models.items() if "fund" in n.tags}
    assert tagged == need
    assert {n.alias for k, n in models.items() if k in need} >= {"int_order_transactions_DEMO",
                                                                 "CD_FA_AGG_BUY_DEMO"}
    assert all(n.alias == n.name for k, n in models.items() if k not in need and n.name != "fa_data_quality")


def write_config(path: Path, funds: list[dict]) -> Path:
    body = {"targets": funds} if len(funds) > 1 else {"target": funds[0]}
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def fund_tables(db: Path, code: str) -> dict[str, tuple[int, str]]:
    """{table without the fund code: (rows, digest of every row)} of one fund's tables."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'dbo' and table_type = 'BASE TABLE'").fetchall()]
        out = {}
        for name in names:
            if name.endswith("_" + code):
                out[name[: -len(code) - 1]] = con.execute(
                    "select count(*), md5(coalesce(string_agg(h, '' order by h), '')) "
                    f'from (select md5(cast(t as varchar)) as h from dbo."{name}" as t)').fetchone()
        return out
    finally:
        con.close()


class World:
    def __init__(self, root: Path, mp: pytest.MonkeyPatch):
        self.root, self.mp = root, mp
        for k, v in {"FA_SOURCE_DB": root / "src.duckdb", "FA_ART_DIR": root / "art",
                     "DBT_TARGET_PATH": root / "dbt_target", "DBT_LOG_PATH": root / "dbt_logs"}.items():
            mp.setenv(k, str(v))
        for k in ("FA_ENGINE", "FA_DBT_TARGET", "FA_LOCK_OWNER_PID"):
            mp.delenv(k, raising=False)

    def use(self, db: str, funds: list[dict]) -> Path:
        self.mp.setenv("FA_DUCKDB_PATH", str(self.root / db))
        self.mp.setenv("FA_CONFIG", str(write_config(self.root / f"{db}.yml", funds)))
        return self.root / db

    def cli(self, *args: str) -> None:
        from orchestrate import cli

        r = CliRunner().invoke(cli, list(args))
        assert r.exit_code == 0, r.output[-2000:]

    def step(self, *args: str) -> None:
        """A step of the daily runner (python -m ml.steps), in-process."""
        from ml.steps import main

        assert main(list(args)) == 0

    def sequence(self, db: str, funds: list[dict]) -> Path:
        """backfill START..END for every fund, then the daily dbt steps of DAYS (as `daily` runs them)."""
        path = self.use(db, funds)
        self.cli("backfill", "--start-date", START, "--end-date", END)
        for day in DAYS:
            for i, f in enumerate(funds):
                self.step("dbt", "--date", day, "--fund", f["code"], *(["--fund-models-only"] if i else []))
        return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from ml.demo import generate

    root = tmp_path_factory.mktemp("funds")
    with pytest.MonkeyPatch.context() as mp:
        w = World(root, mp)
        w.use("seed", [A])
        generate(load_settings(), depots=150, days=200, seed=7, end_date=date(2025, 8, 20))
        w.shared = w.sequence("shared.duckdb", [A, B])
        w.alone = {f["code"]: w.sequence(f"{f['code']}.duckdb", [f]) for f in (A, B)}
        w.before_change = {f["code"]: fund_tables(w.shared, f["code"]) for f in (A, B)}
        # FUNDB's ISIN list changes: its backfill again over the whole range, in the shared database
        w.use("shared.duckdb", [A, B_NEW])
        w.cli("backfill", "--fund", "FUNDB", "--start-date", START, "--end-date", DAYS[-1])
        w.fresh_b_new = w.use("fresh_b_new.duckdb", [B_NEW])
        w.cli("backfill", "--start-date", START, "--end-date", DAYS[-1])
        yield w


@pytest.mark.parametrize("code", ["FUNDA", "FUNDB"])
def test_each_fund_equals_its_fresh_database(world, code):
    shared = world.before_change[code]
    alone = fund_tables(world.alone[code], code)
    assert set(shared) == FUND_MODELS
    assert shared == alone
    assert shared["CD_FA_LABELS"][0] > 0 and shared["int_first_buy_dates"][0] > 0


def test_the_funds_differ(world):
    """The comparison above is not trivially true: the two funds' own tables differ."""
    a, b = world.before_change["FUNDA"], world.before_change["FUNDB"]
    assert a["CD_FA_AGG_BUY"][0] == b["CD_FA_AGG_BUY"][0]        # one universe
    assert a["int_first_buy_dates"] != b["int_first_buy_dates"]
    assert a["CD_FA_LABELS"] != b["CD_FA_LABELS"]


def test_changed_isins_rebuild_that_fund_only(world):
    after_b = fund_tables(world.shared, "FUNDB")
    assert after_b == fund_tables(world.fresh_b_new, "FUNDB")
    before_b = world.before_change["FUNDB"]
    assert after_b["int_first_buy_dates"] != before_b["int_first_buy_dates"]
    assert after_b["CD_FA_LABELS"] != before_b["CD_FA_LABELS"]
    assert fund_tables(world.shared, "FUNDA") == world.before_change["FUNDA"]
    con = duckdb.connect(str(world.shared), read_only=True)
    try:
        stored = dict(con.execute("select Fund_Code, Fund_Definition from dbo.FA_FUND_DEFINITION").fetchall())
    finally:
        con.close()
    assert set(stored) == {"FUNDA", "FUNDB"} and "LU000DEMO031" in stored["FUNDB"]
