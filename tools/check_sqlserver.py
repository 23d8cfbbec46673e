"""Offline SQL Server check (``make check-sqlserver``): no server needed.

1. ``dbt parse`` of the project for the ``sqlserver`` target.
2. ``dbt compile`` of every model (and data test) for SQL Server, with
   ``--no-populate-cache --no-introspect``, in two forms: full refresh
   (``force_incremental: false``) and incremental (``force_incremental: true``); the
   project's ``is_incremental()`` override (dbt_project/macros/incremental/
   offline_is_incremental.sql) reads ``force_incremental``. Both pass a
   start/end date as orchestrate.py does: without them the models look the data horizon
   up in the source at compile time, which needs a server.
3. The compiled T-SQL of every model goes to ``build/sqlserver/models/<model>.sql``
   (plus ``<model>.incremental.sql`` where the incremental form differs); data tests to
   ``build/sqlserver/tests/``.
4. The statements the Python writer (ml/db_sqlserver.py) sends, captured with the fake
   DBAPI connection, go to ``build/sqlserver/python/writer.sql``; every other SQL string
   in ml/ that can reach SQL Server (f-string fields as X_) to ``python/sql_literals.sql``.
   Each model's hooks and its incremental strategy statement (rendered by dbt-sqlserver's
   own macro) go to ``build/sqlserver/hooks/``.
   dbt-sqlserver's own wrappers around each compiled model and data test (create view,
   SELECT INTO, columnstore index, the test view), rendered by its macros, go to
   ``build/sqlserver/wrappers/``.
5. Every column of every model and data test must resolve (sqlglot qualify, in DAG
   order, against docs/rules.md §0.2's source tables, names case-sensitive as in a BIN2 database):
   catches select-list aliases reused in the same SELECT / WHERE / GROUP BY, which DuckDB
   allows and SQL Server rejects; UNION branches must agree on column count and type family.
6. Every statement is parsed as T-SQL (sqlglot), the strings of EXEC('...') and
   sp_executesql too, and scanned for constructs SQL Server lacks (tools/tsql_scan.py).
   Any error finding fails the check (exit 1) with a list.

``--adapter fabric`` (``make check-fabric``; docs/scale.md) runs the same check for a
Microsoft Fabric Warehouse with dbt-fabric: target ``fabric``, output in ``build/fabric/``,
dbt-fabric's own wrappers (CREATE TABLE AS SELECT, create view, the test query) in place of
dbt-sqlserver's, the output tables' key as PRIMARY KEY NONCLUSTERED ... NOT ENFORCED, a
fabric__ version of every macro with a sqlserver__ one, and the Fabric rules of
tools/tsql_scan.py on every statement. The Python writer (step 4) is SQL Server's only and
is not checked there.

Usage: python -m tools.check_sqlserver [--adapter sqlserver|fabric] [--out DIR] [--skip-dbt]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.tsql_scan import ERROR, WARN, Finding, check_sql  # noqa: E402

DBT_DIR = ROOT / "dbt_project"
DATE_VARS = {"start_date": "2025-08-01", "end_date": "2025-08-20"}


@dataclass(frozen=True)
class Adapter:
    """One T-SQL engine the check serves: its dbt target (= adapter type) and what differs."""

    name: str          # dbt target in dbt_project/profiles.yml and the adapter type
    title: str         # in messages
    package: str       # the dbt adapter, as pinned in requirements.lock
    key_sql: str       # regex: the output tables' key in their post-hook
    key_hint: str      # what that key must be
    fabric: bool       # the Fabric rules of tools/tsql_scan.py
    python_side: bool  # the Python writer and ml/'s SQL strings talk to this engine

    @property
    def check(self) -> str:
        return f"check-{self.name}"


SQLSERVER = Adapter(
    "sqlserver", "SQL Server", "dbt-sqlserver 1.11.3",
    r"primary key clustered \(\[Score_Date\], \[Depot_Number\]\)",
    "the clustered PK (Score_Date, Depot_Number) on SQL Server", fabric=False, python_side=True)
FABRIC = Adapter(
    "fabric", "Fabric Warehouse", "dbt-fabric 1.11.1",
    r"primary key nonclustered \(\[Score_Date\], \[Depot_Number\]\)\s+not enforced",
    "PRIMARY KEY NONCLUSTERED (Score_Date, Depot_Number) NOT ENFORCED on Fabric Warehouse",
    fabric=True, python_side=False)
ADAPTERS = {a.name: a for a in (SQLSERVER, FABRIC)}


def require_adapter(adapter: Adapter) -> None:
    """Stop with one line (exit 1) when the dbt adapter is not installed."""
    import importlib.util

    if importlib.util.find_spec(f"dbt.adapters.{adapter.name}") is None:
        raise SystemExit(f"{adapter.check}: {adapter.package} is not installed: `make install` "
                         "installs it from requirements.lock (on Linux x86-64 for dbt-fabric)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fund_var() -> dict:
    from ml.config import load_settings

    return load_settings().target.dbt_vars()


def run_dbt(args: list[str], target_path: Path, adapter: Adapter = SQLSERVER, what: str = ""):
    """One in-process dbt call against the adapter's target; its result. Raises SystemExit
    with one line on failure (``what`` names it, else the dbt command)."""
    from dbt.cli.main import dbtRunner

    cli = [
        "--quiet", "--no-use-colors", "--log-format", "text",
        *args,
        "--project-dir", str(DBT_DIR),
        "--profiles-dir", str(DBT_DIR),
        "--target", adapter.name,
        "--target-path", str(target_path),
        "--log-path", str(target_path / "logs"),
    ]
    res = dbtRunner().invoke(cli)
    if not res.success:
        detail = res.exception or "see " + str(target_path / "logs" / "dbt.log")
        detail = " ".join(str(detail).split())  # one line
        raise SystemExit(f"{adapter.check}: {what or 'dbt ' + args[0]} failed for {adapter.title}: {detail}")
    return res


def load_manifest(work: Path, form: str) -> dict:
    return json.loads((work / f"target_{form}" / "manifest.json").read_text())


def compile_form(work: Path, form: str, vars_: dict,
                 adapter: Adapter = SQLSERVER) -> dict[str, dict[str, str]]:
    """Compile every node for the adapter; {'model'|'test': {name: compiled T-SQL}}."""
    target_path = work / f"target_{form}"
    run_dbt(["compile", "--no-populate-cache", "--no-introspect", "--vars", json.dumps(vars_)],
            target_path, adapter)
    manifest = load_manifest(work, form)
    out: dict[str, dict[str, str]] = {"model": {}, "test": {}}
    for node in manifest["nodes"].values():
        kind = node.get("resource_type")
        if kind in out and node.get("compiled_code") is not None:
            # generic test names can exceed a file name; dbt's own file name is short
            name = node["name"] if kind == "model" else Path(node["path"]).stem
            out[kind][name] = node["compiled_code"].strip() + "\n"
    return out


# Rendered in the context of an inline query: every model's pre/post hooks and, for the
# incremental models, the statement dbt-sqlserver's strategy macro would send (with the
# target and temp relations and the model's columns standing in for introspection).
HOOKS_INLINE = """
{%- if execute -%}
{%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
{%- for hook in node.config.get('pre-hook', []) + node.config.get('post-hook', []) -%}
{%- set rendered = render(hook.sql) | trim -%}
{%- if rendered %}
-- @@unit hook {{ node.name }} {{ node.alias }}
{{ rendered }}
{% endif -%}
{%- endfor -%}
{%- if node.config.materialized == 'incremental' -%}
{%- set target = api.Relation.create(database=target.database, schema=target.schema, identifier=node.alias) -%}
{%- set temp = api.Relation.create(database=target.database, schema=target.schema, identifier=node.alias ~ '__dbt_temp') -%}
{%- set cols = [] -%}{%- for c in node.columns.values() -%}{%- do cols.append({'name': c.name}) -%}{%- endfor -%}
{%- if not cols -%}{%- do cols.append({'name': 'Score_Date'}) -%}{%- do cols.append({'name': 'Depot_Number'}) -%}{%- endif -%}
{%- set strategy = node.config.get('incremental_strategy') or 'append' -%}
{%- set predicates = node.config.get('incremental_predicates') or node.config.get('predicates') -%}
-- @@unit strategy {{ node.name }} {{ strategy }} predicates={{ predicates | tojson }}
{%- set args = {'target_relation': target, 'temp_relation': temp, 'unique_key': node.config.get('unique_key'), 'dest_columns': cols, 'incremental_predicates': predicates} %}
{%- if strategy == 'delete+insert' %}
{{ get_incremental_delete_insert_sql(args) }}
{%- elif strategy == 'merge' %}
{{ get_incremental_merge_sql(args) }}
{%- else %}
{{ get_incremental_append_sql(args) }}
{%- endif %}
{% endif -%}
{%- endfor -%}
{%- endif -%}
"""


def compile_hooks(work: Path, vars_: dict, compiled: dict[str, dict[str, str]] | None = None,
                  adapter: Adapter = SQLSERVER) -> list[tuple[str, str]]:
    """[(label, T-SQL)] of every hook and incremental strategy statement (see HOOKS_INLINE)
    and, given the compiled models and tests, of dbt-sqlserver's wrappers around them
    (WRAPPERS_INLINE, labels 'wrapper ...'; dbt-fabric's: FABRIC_WRAPPERS_INLINE): one
    inline compile for both (each dbt call parses the project again).

    ``this`` inside a hook renders as the inline query's relation; it is put back to the
    model's table name so the file reads as what the server receives.
    """
    inline = HOOKS_INLINE
    if compiled is not None:
        inline += FABRIC_WRAPPERS_INLINE if adapter.fabric else WRAPPERS_INLINE
        vars_ = {**vars_, "wrap_sql": {"model": compiled["model"], "test": compiled["test"]}}
    units = []
    for label, body in _inline_units(work, "hooks", inline, vars_, adapter):
        parts = label.split()
        if parts[0] == "hook":
            body = body.replace("inline_query", parts[2])
        elif parts[0] in ("view", "table", "index", "test"):
            label = f"wrapper {label}"
        units.append((label, body))
    return units


# The wrappers' frame: every compiled model (the var wrap_sql) in turn, then every data
# test, which both adapters run through get_test_sql.
_WRAP_HEAD = """
{%- if execute -%}
{%- set bodies = var('wrap_sql') -%}
{%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name in bodies['model'] -%}
"""
_WRAP_TESTS = """{% endfor -%}
{%- for name, sql in bodies['test'].items() %}
-- @@unit test {{ name }}
{{ get_test_sql(sql, 'count(*)', '!= 0', '!= 0', none) }}
{% endfor -%}
{%- endif -%}
"""

# dbt-sqlserver's own wrappers around the compiled SQL, rendered by its macros: every
# table and incremental model is built through a view (EXEC('CREATE OR ALTER VIEW
# <alias>__dbt_tmp_vw AS <escaped SQL>')) then SELECT * INTO; the intermediate tables get a
# clustered columnstore index; a data test runs as EXEC('create view testview_... as
# <escaped SQL>') and a SELECT over it. The compiled SQL comes in as the var wrap_sql.
# (sqlserver__create_table_as itself cannot be rendered offline: it drops the temporary
# view through the adapter, which needs a connection; its SELECT * INTO is added as is.)
WRAPPERS_INLINE = _WRAP_HEAD + """{%- set view = api.Relation.create(database=target.database, schema=target.schema, identifier=node.alias ~ '__dbt_tmp_vw', type='view') -%}
{%- set table = api.Relation.create(database=target.database, schema=target.schema, identifier=node.alias) %}
-- @@unit view {{ node.name }}
{{ get_create_view_as_sql(view, bodies['model'][node.name]) }}
EXEC('SELECT * INTO {{ table }} FROM {{ view }}')
{%- if node.config.get('as_columnstore', true) %}
-- @@unit index {{ node.name }}
{{ sqlserver__create_clustered_columnstore_index(table) }}
{%- endif %}
""" + _WRAP_TESTS

# dbt-fabric's wrappers, rendered by its macros: a view model is EXEC('create view ...'); a
# table or incremental model (and an incremental run's <alias>__dbt_temp table) is CREATE
# TABLE ... AS <compiled SQL> (CTAS; fabric__create_table_as, no view in between: it needs
# no connection, so it renders as is); a data test is a query over a CTE (no view).
FABRIC_WRAPPERS_INLINE = _WRAP_HEAD + """{%- set kind = 'view' if node.config.materialized == 'view' else 'table' -%}
{%- set rel = api.Relation.create(database=target.database, schema=target.schema, identifier=node.alias, type=kind) %}
-- @@unit {{ kind }} {{ node.name }}
{% if kind == 'view' %}{{ get_create_view_as_sql(rel, bodies['model'][node.name]) }}{% else %}{{ create_table_as(False, rel, bodies['model'][node.name]) }}{% endif %}
""" + _WRAP_TESTS


def _inline_units(work: Path, name: str, inline: str, vars_: dict,
                  adapter: Adapter = SQLSERVER) -> list[tuple[str, str]]:
    """Compile an inline query for the adapter offline; its '-- @@unit <label>' sections."""
    args = ["compile", "--no-populate-cache", "--no-introspect", "--vars", json.dumps(vars_),
            "--inline", inline]
    with contextlib.redirect_stdout(io.StringIO()):  # an inline compile prints its result
        res = run_dbt(args, work / f"target_{name}", adapter, what=f"rendering {name}")
    text = res.result.results[0].node.compiled_code
    units = []
    for chunk in text.split("-- @@unit ")[1:]:
        header, _, body = chunk.partition("\n")
        units.append((header.strip(), body.strip()))
    return units


def writer_statements() -> list[tuple[str, str]]:
    """(label, sql) of every statement ml/db_sqlserver.py sends for typical writes."""
    import pandas as pd

    from ml.db import create_table_sql
    from ml.db_sqlserver import SqlServerDatabase
    from tools.fake_dbapi import FakeConnection

    con = FakeConnection()
    con.respond("sp_getapplock", ["rc"], [(0,)], types=[int])
    db = SqlServerDatabase(con, chunk_size=2)
    frame = pd.DataFrame({
        "Score_Date": [date(2025, 8, 20)] * 3,
        "Depot_Number": ["0001", "0002", "0003"],
        "p_buy_7d": [0.1, 0.2, 0.3],
        "scored_at": [pd.Timestamp("2025-08-21 06:00")] * 3,
    })
    db.table_exists("CD_FA_BUY_DEMO_ML")
    db.ensure_table("CD_FA_BUY_DEMO_ML", [("Score_Date", "date"), ("Depot_Number", "key"),
                                          ("p_buy_7d", "float"), ("scored_at", "timestamp")],
                    primary_key=["Score_Date", "Depot_Number"])
    db.replace_rows("CD_FA_BUY_DEMO_ML", frame, "Score_Date = ?", [date(2025, 8, 20)])
    db.append_rows("FA_MODEL_EVAL", frame)
    db.query_df("SELECT Score_Date, COUNT(*) AS n FROM dbo.CD_FA_BUY_DEMO_ML "
                "WHERE Score_Date BETWEEN ? AND ? GROUP BY Score_Date", [date(2025, 8, 1), date(2025, 8, 20)])
    with db.pipeline_lock():
        pass
    out = [(f"writer#{i + 1} {c.kind}", c.sql) for i, c in enumerate(con.statements)]
    ddl = create_table_sql(
        "sqlserver", "FA_MODEL_REGISTRY",
        [("target_code", "key"), ("horizon", "int"), ("version", "key"), ("n", "bigint"),
         ("metrics_json", "text"), ("trained_at", "timestamp"), ("ap", "float"),
         ("amount", "money"), ("train_start", "date")],
        primary_key=["target_code", "horizon", "version"], not_null=["trained_at"],
    )
    from tools.sqlserver_ddl import python_owned_ddl

    owned = [(f"ddl {owner} {sql.split()[2]}", sql) for owner, sql in python_owned_ddl()]
    return out + [("create_table_sql", ddl)] + owned


# docs/rules.md §0.2 in T-SQL: the source tables as Provisionen.dbo declares them.
SOURCE_TSQL_TYPES = {
    "cd_Datei": {"Datei_ID": "INT", "Datei_Typ": "CHAR(1)", "Datei_Datum": "DATE",
                 "Import_Zeit": "DATETIME2", "Datei_Name": "NVARCHAR(260)"},
    "cd_Order": {"Datei_ID": "INT", "Transaction_Number": "VARCHAR(32)", "Depot_Number": "VARCHAR(20)",
                 "Order_Date": "DATE", "OrderType": "NVARCHAR(20)", "ISIN": "CHAR(12)",
                 "Units": "DECIMAL(18,6)", "Amount_EUR": "DECIMAL(18,2)", "Remark": "NVARCHAR(255)"},
    "cd_Buchung": {"Datei_ID": "INT", "Transaction_Number": "VARCHAR(32)", "Depot_Number": "VARCHAR(20)",
                   "Booking_Date": "DATE", "Booking_Type": "NVARCHAR(20)", "Amount_EUR": "DECIMAL(18,2)",
                   "Remark": "NVARCHAR(255)"},
    "cd_Saldo": {"Datei_ID": "INT", "Depot_Number": "VARCHAR(20)", "Cash_EUR": "DECIMAL(18,2)"},
    "cd_Bestand": {"Datei_ID": "INT", "Depot_Number": "VARCHAR(20)", "ISIN": "CHAR(12)",
                   "Units": "DECIMAL(18,6)", "Market_Value_EUR": "DECIMAL(18,2)"},
}
# docs/rules.md §10 / the team brief: the column types of the dbt output tables (prefix of the alias).
OUTPUT_TYPES = {
    "CD_FA_AGG_BUY_": {
        "Score_Date": "DATE", "Depot_Number": "VARCHAR", "Buys_7d": "INT", "Buys_30d": "INT",
        "Last_Buy_Days": "INT", "Avg_Ticket_90d": ("FLOAT", "DECIMAL"), "Cash": "DECIMAL(18,2)",
        "Portfolio_Value": "DECIMAL(18,2)", "Cash_Ratio": "FLOAT", "Deposit_30d_eff": "DECIMAL(18,2)",
        "Turnover_30d": "DECIMAL(18,2)", "Pos_Count": "INT", "NewRefs_90d": "INT",
        "CancelRate_30d": "FLOAT", "Pre_First_Target": "INT",
        # docs/rules.md §7a (features v2 from orders and bookings)
        **{c: "DECIMAL(18,2)" for c in ("Deposit_7d", "Deposit_14d", "Deposit_90d",
                                         "Withdrawal_30d", "Sales_Proceeds_30d")},
        "Deposit_Decay": "FLOAT",
        **{c: "INT" for c in ("Days_Since_Deposit", "Orders_90d", "Orders_365d", "Buys_90d",
                               "Buys_365d", "Sales_90d", "Sales_365d", "Distinct_Isins_Bought_90d",
                               "Distinct_Isins_Bought_365d", "Target_SavingsPlan_365d",
                               "Target_TransferIn_365d", "Days_Since_Target_SavingsPlan")}},
    "CD_FA_LABELS_": {"Score_Date": "DATE", "Depot_Number": "VARCHAR", "first_buy_date": "DATE",
                      "label_T*": "INT"},
}




def source_types(adapter: Adapter = SQLSERVER) -> dict[str, dict[str, str]]:
    """SOURCE_TSQL_TYPES as the adapter's source tables would declare them: a Fabric
    warehouse has no NVARCHAR (VARCHAR, UTF-8) and keeps DATETIME2 to 6 digits."""
    if not adapter.fabric:
        return SOURCE_TSQL_TYPES
    fabric = {"NVARCHAR": "VARCHAR", "DATETIME2": "DATETIME2(6)"}
    return {table: {c: re.sub(r"^(NVARCHAR|DATETIME2)\b", lambda m: fabric[m.group(1)], ty)
                    for c, ty in cols.items()} for table, cols in SOURCE_TSQL_TYPES.items()}


def _norm_type(text: str) -> str:
    t = text.upper().replace(" ", "")
    t = re.sub(r"^NUMERIC", "DECIMAL", t)
    return {"INTEGER": "INT", "DOUBLE": "FLOAT"}.get(t, t)


def type_findings(types: dict[str, dict[str, str]]) -> list[Finding]:
    """The output tables' columns have the types of docs/rules.md §10 (as sqlglot infers them)."""
    out = []
    for alias, cols in types.items():
        for prefix, expected in OUTPUT_TYPES.items():
            if not alias.upper().startswith(prefix):
                continue
            by_lower = {k.lower(): v for k, v in cols.items()}
            for col, want in expected.items():
                names = [c for c in by_lower if re.fullmatch(col.lower().replace("*", r"\d+"), c)]
                if not names:
                    out.append(Finding(f"table {alias}", "missing-column", f"no column {col}"))
                for name in names:
                    got = _norm_type(by_lower[name])
                    wants = want if isinstance(want, tuple) else (want,)
                    if not any(got == w or got.startswith(w + "(") or (w == "VARCHAR" and got.startswith("VARCHAR"))
                               for w in wants):
                        severity = WARN if got == "UNKNOWN" else ERROR
                        out.append(Finding(f"table {alias}", "column-type",
                                           f"{name} is {got}, docs/rules.md §10 wants {' or '.join(wants)}", severity))
    return out


def CASE_SENSITIVE_TSQL():  # noqa: N802 (a dialect factory)
    """T-SQL with case-sensitive names: a FA database with a binary (BIN2) collation
    matches table and column names exactly, so the models must too."""
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise("tsql, normalization_strategy=case_sensitive")


_TYPE_FAMILIES = (("text", ("CHAR", "VARCHAR", "NCHAR", "NVARCHAR", "TEXT")),
                  ("date", ("DATE", "DATETIME", "DATETIME2", "SMALLDATETIME", "TIME", "TIMESTAMP")),
                  ("number", ("INT", "BIGINT", "SMALLINT", "TINYINT", "BIT", "DECIMAL", "NUMERIC",
                              "FLOAT", "REAL", "DOUBLE", "MONEY")))


def _family(type_sql: str) -> str | None:
    name = re.sub(r"\(.*", "", type_sql.upper()).strip()
    for family, names in _TYPE_FAMILIES:
        if name in names:
            return family
    return None  # unknown / NULL: compatible with anything


def union_findings(tree, where: str, schema: dict, dialect) -> list[Finding]:
    """The branches of every UNION [ALL] have as many columns and, column by column, types
    of one family (text, date, number). SQL Server converts every branch to the type of
    highest precedence: text meeting a number or a date is converted to it (an error on
    the first non-numeric value), where DuckDB would make both text."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.annotate_types import annotate_types

    out = []
    unions = [u for u in tree.find_all(exp.Union) if not isinstance(u.parent, exp.Union)]
    if not unions:
        return out
    try:
        typed = annotate_types(sqlglot.parse_one(tree.sql(dialect=dialect), read=dialect),
                               schema=schema, dialect=dialect)
    except Exception:
        return out

    def branches(node):
        if isinstance(node, exp.Union):
            return branches(node.left) + branches(node.right)
        if isinstance(node, exp.Subquery):
            return branches(node.this)
        return [node] if isinstance(node, exp.Select) else []

    for union in typed.find_all(exp.Union):
        if isinstance(union.parent, exp.Union):
            continue
        selects = branches(union)
        if any(any(isinstance(p, exp.Star) for p in s.expressions) for s in selects):
            continue
        widths = {len(s.expressions) for s in selects}
        if len(widths) > 1:
            out.append(Finding(where, "union-columns",
                               f"UNION branches have {sorted(widths)} columns: they must have as many"))
            continue
        first = selects[0]
        for i, proj in enumerate(first.expressions):
            kinds = {}
            for s in selects:
                t = s.expressions[i].type
                fam = _family(t.sql("tsql")) if t is not None else None
                if fam:
                    kinds.setdefault(fam, t.sql("tsql"))
            if len(kinds) > 1:
                out.append(Finding(where, "union-types",
                                   f"UNION column {i + 1} ({proj.alias_or_name}) is "
                                   f"{' in one branch, '.join(kinds.values())} in another: SQL Server "
                                   "converts to the type of highest precedence; cast every branch "
                                   "to one type"))
    return out


def column_findings(manifest: dict, types_out: dict | None = None,
                    own_columns: dict | None = None, adapter: Adapter = SQLSERVER) -> list[Finding]:
    """Every column a model or data test names must exist where it reads it.

    own_columns (alias -> columns, from the full form): an incremental model reads its own
    stored table ({{ this }}), which has the columns of its full form.

    Models are qualified with sqlglot in dependency order against the source tables of
    docs/rules.md §0.2 and the columns of the models already seen. Catches what DuckDB accepts and
    SQL Server does not: a select-list alias used in the same SELECT, its WHERE or its
    GROUP BY, and columns that do not exist. A construct sqlglot cannot qualify is a warning.
    """
    import sqlglot
    from sqlglot.errors import OptimizeError
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    from ml.source import SOURCE_TABLES

    tsql = CASE_SENSITIVE_TSQL()

    nodes = {k: v for k, v in manifest["nodes"].items()
             if v["resource_type"] in ("model", "test") and v.get("compiled_code")}
    schema: dict = {}
    for source in manifest.get("sources", {}).values():
        cols = source_types(adapter).get(source["name"]) or {
            c: "INT" for c in (SOURCE_TABLES.get(source["name"]) or source.get("columns", {}))}
        schema.setdefault(source["database"], {}).setdefault(source["schema"], {})[
            source["identifier"]] = dict(cols)
    order: list[str] = []

    def visit(key: str) -> None:
        if key in order or key not in nodes:
            return
        for dep in nodes[key]["depends_on"]["nodes"]:
            visit(dep)
        order.append(key)

    for key in sorted(nodes):
        visit(key)
    out = []
    for key in order:
        node = nodes[key]
        where = f"{node['resource_type']} {node['name']}"
        if own_columns and node["resource_type"] == "model" and node["alias"] in own_columns:
            schema.setdefault(node["database"], {}).setdefault(node["schema"], {})[node["alias"]] = {
                c: (t if t not in ("UNKNOWN", "NULL") else "INT")
                for c, t in own_columns[node["alias"]].items()}
        try:
            tree = qualify(sqlglot.parse_one(node["compiled_code"], read=tsql), schema=schema,
                           dialect=tsql, expand_alias_refs=False, validate_qualify_columns=True)
            out += union_findings(tree, where, schema, tsql)
            try:
                tree = annotate_types(tree, schema=schema, dialect=tsql)
                cols = {sel.alias_or_name: (sel.type.sql("tsql") if sel.type else "UNKNOWN")
                        for sel in tree.selects}
            except Exception:  # types are a bonus; columns were resolved
                cols = {sel.alias_or_name: "UNKNOWN" for sel in tree.selects}
            if node["resource_type"] == "model" and types_out is not None:
                types_out[node["alias"]] = cols
            # the next models need names and usable types (UNKNOWN reads as INT)
            cols = {c: (t if t not in ("UNKNOWN", "NULL") else "INT") for c, t in cols.items()}
        except OptimizeError as exc:
            message = str(exc).splitlines()[0]
            severe = "could not be resolved" in message
            out.append(Finding(where, "unresolved-column" if severe else "qualify",
                               message + (" (a select-list alias cannot be used in the same "
                                          "SELECT, WHERE or GROUP BY in SQL Server; names are "
                                          "matched case-sensitively, as in a database with a "
                                          "binary (BIN2) collation)" if severe else ""),
                               ERROR if severe else WARN))
            cols = {}
        except Exception as exc:  # sqlglot could not follow it: say so, do not fail
            out.append(Finding(where, "qualify", f"not checked: {type(exc).__name__}: {exc}", WARN))
            cols = {}
        if node["resource_type"] == "model":
            schema.setdefault(node["database"], {}).setdefault(node["schema"], {})[
                node["alias"]] = cols
    return out


_SQL_START = re.compile(r"^\s*(SELECT|WITH|INSERT|DELETE|UPDATE|CREATE|DROP|MERGE|ALTER|EXEC)\s", re.I)
PLACEHOLDER = "X_"
# Modules and scopes that only ever talk to DuckDB (the embedded source writer, DuckDatabase,
# _duckdb_* helpers): their SQL never reaches SQL Server.
DUCKDB_ONLY_MODULES = {"source.py"}   # (ml/demo/, the generator, is a subpackage: not scanned)


def python_sql_literals(package: Path = ROOT / "ml") -> list[tuple[str, str]]:
    """[(file:line, sql)] of every SQL string in the Python package that can reach SQL Server.

    f-string fields and str.format fields become the identifier X_; docstrings and scopes
    whose name says DuckDB are left out.
    """
    import ast

    out = []
    for path in sorted(package.glob("*.py")):
        if path.name in DUCKDB_ONLY_MODULES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if "duck" in node.name.lower():
                    skip.update(id(n) for n in ast.walk(node))
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                skip.add(id(node.value))  # docstrings and bare strings
            if isinstance(node, ast.JoinedStr):
                skip.update(id(v) for v in node.values)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.JoinedStr):
                text = "".join(str(v.value) if isinstance(v, ast.Constant) else PLACEHOLDER
                               for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*\}", PLACEHOLDER, node.value)
            else:
                continue
            if _SQL_START.match(text):
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                out.append((f"{shown}:{node.lineno}", text))
    return out


def _not_placeholder(f: Finding) -> bool:
    """A bare X_ (a caller-supplied WHERE clause) is not a boolean column."""
    return not (f.rule == "boolean-column" and f.detail.startswith(f"{PLACEHOLDER} used as"))


# Project overrides of dbt's own default__ macros whose single body is valid T-SQL too.
SHARED_DEFAULTS = {"get_where_subquery"}


_MACRO = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\((.*?)\{%-?\s*endmacro", re.S)


def dispatch_findings(macro_dir: Path = DBT_DIR / "macros",
                      adapter: Adapter = SQLSERVER) -> list[Finding]:
    """SQL Server: every engine-specific macro (default__x / duckdb__x) has its sqlserver__x
    version (dbt-sqlserver 1.9+ no longer falls back to fabric__ macros).

    Fabric: dbt-fabric looks for fabric__x, then default__x, never sqlserver__x; so every x
    with a sqlserver__x has a fabric__x, unless sqlserver__x is default__x itself (returns
    it, or has the same body): then default__x serves Fabric as it serves SQL Server."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(macro_dir.rglob("*.sql")))
    bodies = {name: " ".join(body.split()) for name, body in _MACRO.findall(text)}
    defined = set(bodies)
    out = []
    for name in sorted(defined):
        if adapter.fabric:
            m = re.match(r"sqlserver__(\w+)$", name)
            if not m or f"fabric__{m.group(1)}" in defined:
                continue
            default = f"default__{m.group(1)}"
            same = default in defined and (
                f"return({default}(" in bodies[name].replace(" ", "")
                or bodies[name].split("%}", 1)[-1] == bodies[default].split("%}", 1)[-1])
            if not same:
                out.append(Finding(f"macro {m.group(1)}", "no-fabric-dispatch",
                                   f"{name} has no fabric__{m.group(1)}: dbt-fabric would use "
                                   f"{default if default in defined else 'no macro'}; add "
                                   f"fabric__{m.group(1)} (often {{{{ return({name}(...)) }}}})"))
            continue
        m = re.match(r"(default|duckdb)__(\w+)$", name)
        if m and m.group(2) not in SHARED_DEFAULTS and f"sqlserver__{m.group(2)}" not in defined:
            out.append(Finding(f"macro {m.group(2)}", "no-sqlserver-dispatch",
                               f"{name} has no sqlserver__{m.group(2)}: add the T-SQL version"))
    return out


def coverage_findings(compiled: dict[str, str], hook_units: list[tuple[str, str]],
                      manifest: dict, adapter: Adapter = SQLSERVER) -> list[Finding]:
    """Every model file compiled; every CD_FA_ output table gets its primary key (clustered
    on SQL Server, nonclustered and not enforced on Fabric)."""
    out = []
    files = {p.stem for p in (DBT_DIR / "models").rglob("*.sql")}
    for name in sorted(files - set(compiled)):
        out.append(Finding(f"model {name}", "not-compiled", "no compiled SQL for this model file"))
    keyed = {label.split()[1] for label, sql in hook_units
             if label.startswith("hook ") and re.search(adapter.key_sql, sql, re.I)}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["alias"].upper().startswith("CD_FA_") \
                and node["name"] not in keyed:
            out.append(Finding(f"model {node['name']}", "missing-primary-key",
                               f"{node['alias']} needs {adapter.key_hint}: add the primary_key "
                               "post-hook (dbt_project.yml)"))
    return out


def _strategy_findings(label: str) -> list[Finding]:
    """dbt-sqlserver 1.11.3 renders delete+insert incremental_predicates without the table
    alias (fixed in 1.12): the project must not use them there."""
    parts = label.split()
    if parts[0] == "strategy" and parts[2] == "delete+insert" and parts[3] not in ("predicates=null", "predicates=[]"):
        return [Finding(f"model {parts[1]}", "delete-insert-predicates",
                        "incremental_predicates with delete+insert render without the table alias "
                        "in dbt-sqlserver 1.11.3: drop them or override sqlserver__get_delete_insert_merge_sql")]
    return []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", choices=sorted(ADAPTERS), default="sqlserver",
                    help="the T-SQL engine: sqlserver (dbt-sqlserver) or fabric (dbt-fabric)")
    ap.add_argument("--out", help="output folder (default build/<adapter>)")
    ap.add_argument("--skip-dbt", action="store_true", help="only the Python writer's statements")
    args = ap.parse_args(argv)
    adapter = ADAPTERS[args.adapter]
    name, title, fabric = adapter.check, adapter.title, adapter.fabric
    if args.skip_dbt and not adapter.python_side:
        raise SystemExit(f"{name}: --skip-dbt leaves nothing to check: the Python writer is SQL Server's only")
    require_adapter(adapter)
    t0 = time.monotonic()
    # sqlglot logs "falling back to parsing as a Command" for dbt-sqlserver's batches
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    out = Path(args.out or ROOT / "build" / adapter.name)
    if out.exists():
        shutil.rmtree(out)
    (out / "models").mkdir(parents=True)
    (out / "tests").mkdir()
    if adapter.python_side:
        (out / "python").mkdir()
    os.environ["FA_DBT_TARGET"] = os.environ["FA_ENGINE"] = "sqlserver"  # agree (ml.config)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

    findings: list[Finding] = []
    parsed = checked = 0
    n_models = n_tests = n_incremental = n_hooks = n_wrappers = n_outside = 0

    if not args.skip_dbt:
        work = out / "_dbt"
        fund = _fund_var()
        log(f"{name}: dbt parse (target {adapter.name})")
        run_dbt(["parse"], work / "target_parse", adapter)
        log(f"{name}: dbt compile, full-refresh form")
        full = compile_form(work, "full", {"fund": fund, "force_incremental": False,
                                            **DATE_VARS}, adapter)
        log(f"{name}: dbt compile, incremental form")
        incr = compile_form(work, "incremental", {"fund": fund, "force_incremental": True,
                                                   **DATE_VARS}, adapter)
        for model, sql in sorted(full["model"].items()):
            (out / "models" / f"{model}.sql").write_text(sql)
            units = [(model, sql)]
            inc_sql = incr["model"].get(model)
            if inc_sql is not None and inc_sql != sql:
                (out / "models" / f"{model}.incremental.sql").write_text(inc_sql)
                units.append((f"{model}.incremental", inc_sql))
                n_incremental += 1
            for label, text in units:
                n, f = check_sql(text, f"model {label}", is_model=True, fabric=fabric)
                parsed += n
                checked += 1
                findings += f
            n_models += 1
        log(f"{name}: resolving every column (both forms)")
        types: dict[str, dict[str, str]] = {}
        for form in ("full", "incremental"):
            findings += (column_findings(load_manifest(work, form), types, adapter=adapter)
                         if form == "full"
                         else column_findings(load_manifest(work, form), None, types, adapter))
        findings += type_findings(types)
        (out / "column_types.json").write_text(json.dumps(types, indent=1, sort_keys=True))
        log(f"{name}: rendering hooks, incremental strategy statements and "
            f"{adapter.package.split()[0]}'s wrappers")
        units = compile_hooks(work, {"fund": fund, "force_incremental": True, **DATE_VARS}, full,
                              adapter)
        hook_units = [u for u in units if not u[0].startswith("wrapper ")]
        wrappers = [u for u in units if u[0].startswith("wrapper ")]
        (out / "hooks").mkdir()
        for label, sql in hook_units:
            kind, model = label.split()[:2]
            (out / "hooks" / f"{model}.{kind}.sql").open("a").write(f"-- {label}\n{sql}\n;\n")
            if not fabric:
                findings += _strategy_findings(label)
            if sql:
                n, f = check_sql(sql, label, fabric=fabric)
                parsed += n
                checked += 1
                findings += f
        n_hooks = len(hook_units)
        findings += coverage_findings(full["model"], hook_units, load_manifest(work, "full"), adapter)
        log(f"{name}: checking {adapter.package.split()[0]}'s create-view/table and test wrappers")
        (out / "wrappers").mkdir()
        for label, sql in wrappers:
            kind, node = label.split()[1:3]
            (out / "wrappers" / f"{node}.{kind}.sql").write_text(f"-- {label}\n{sql}\n")
            # a view wrapper's body follows the rules of a model (check_sql), a CTAS's too
            n, f = check_sql(sql, label, is_model=kind == "table", fabric=fabric)
            parsed += n
            checked += 1
            # dbt-sqlserver's own batch (TRY/CATCH, EXEC @rc = ..., columnstore DDL) is
            # partly outside sqlglot's grammar; what it wraps (the EXEC strings) is checked
            outer = [x for x in f if x.rule == "parse" and x.where == label]
            n_outside += bool(outer)
            findings += [x for x in f if x not in outer]
        n_wrappers = len(wrappers)
        findings += dispatch_findings(adapter=adapter)
        for test, sql in sorted(full["test"].items()):
            (out / "tests" / f"{test}.sql").write_text(sql)
            # dbt-sqlserver wraps a test's SQL in a view: the same rules as a model.
            n, f = check_sql(sql, f"test {test}", is_model=True, fabric=fabric)
            parsed += n
            checked += 1
            findings += f
            n_tests += 1

    statements = writer_statements() if adapter.python_side else []
    literals = python_sql_literals() if adapter.python_side else []
    if adapter.python_side:
        (out / "python" / "writer.sql").write_text(
            "".join(f"-- {label}\n{sql};\n\n" for label, sql in statements))
        (out / "python" / "sql_literals.sql").write_text(
            "".join(f"-- {label}\n{sql};\n\n" for label, sql in literals))
    for label, sql in statements:
        n, f = check_sql(sql, label)
        parsed += n
        checked += 1
        findings += f
    for label, sql in literals:
        n, f = check_sql(sql, label)
        parsed += n
        checked += 1
        findings += [x for x in f if _not_placeholder(x)]

    findings = list(dict.fromkeys(findings))
    errors = [f for f in findings if f.severity == ERROR]
    warnings = [f for f in findings if f.severity != ERROR]
    for f in warnings + errors:
        print(f)
    seconds = time.monotonic() - t0
    python = (f"{len(statements)} Python writer statements, {len(literals)} SQL strings in ml/"
              if adapter.python_side else "no Python writer (SQL Server's only)")
    outside = f" ({n_outside} partly outside sqlglot's grammar, their EXEC strings checked)" if n_outside else ""
    print(
        f"{name}: {n_models} models ({n_incremental} with a separate incremental form), "
        f"{n_tests} data tests, {n_hooks} hook/strategy statements, {n_wrappers} "
        f"{adapter.package.split()[0]} wrappers{outside}, {python}; "
        f"{checked} units checked, {parsed} T-SQL statements parsed; "
        f"{len(errors)} errors, {len(warnings)} warnings; {seconds:.1f} s; output in {out}"
    )
    if errors:
        print(f"{name}: FAILED (constructs {title} lacks, see the list above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
