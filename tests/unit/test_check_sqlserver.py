"""The T-SQL scanner behind `make check-sqlserver` and `make check-fabric`: each forbidden
construct is caught, valid T-SQL passes, and literals/comments never count."""

from __future__ import annotations

import pytest

from tools.tsql_scan import ERROR, WARN, check_sql, for_sqlglot

BAD = [
    ("double-colon-cast", "select a::int as x from t"),
    ("limit", "select a from t order by a limit 5"),
    ("pipe-concat", "select a || b as x from t"),
    ("ilike", "select a from t where a ilike '%storn%'"),
    ("boolean-literal", "select a from t where b = true"),
    ("boolean-literal", "select case when a = 1 then false else 0 end as x from t"),
    ("group-by-position", "select a, count(*) as n from t group by 1"),
    ("range-offset-frame",
     "select sum(x) over (partition by d order by s range between interval 6 days preceding and current row) as s from t"),
    ("range-offset-frame", "select sum(x) over (order by s range between 6 preceding and current row) as s from t"),
    ("interval", "select dateadd(day, 1, d) + interval 1 day as x from t"),
    ("nested-cte", "with a as (with b as (select 1 as x) select x from b) select x from a"),
    ("nested-cte", "select x from (with q as (select 1 as x) select x from q) as z"),
    ("boolean-column", "select a > b as flag from t"),
    ("boolean-column", "select a from t where is_bad"),
    ("boolean-column", "select a from t where x = 1 and not is_bad"),
    ("boolean-column", "select case when is_bad then 1 else 0 end as c from t"),
    ("foreign-type", "select cast(a as double) as d from t"),
    ("foreign-type", "select cast(a as boolean) as d from t"),
    ("foreign-type", "select cast(a as timestamp) as d from t"),
    ("string-without-length", "select cast(a as varchar) as d from t"),
    ("foreign-function", "select now() as n from t"),
    ("foreign-function", "select date_diff('day', a, b) as n from t"),
    ("foreign-function", "select length(s) as n from t"),
    ("datepart-string", "select datediff('day', a, b) as n from t"),
    ("typed-literal", "select a from t where d >= date '2025-01-01'"),
    ("current-date", "select current_date as d"),
    ("round-one-arg", "select round(x) as r from t"),
    ("qualify", "select a from t qualify row_number() over (partition by a order by b) = 1"),
    ("nulls-order", "select a, row_number() over (order by b desc nulls last) as rn from t"),
    ("order-by-in-view", "select a from t order by a"),
    ("parse", "select from where"),
    ("date-arithmetic", "select Order_Date + 1 as d from t"),
    ("date-arithmetic", "select a from t where Score_Date - Order_Date <= 30"),
    ("date-arithmetic", "select cast('2025-01-01' as date) - 7 as d"),
    ("unnamed-column", "select Depot_Number, count(*) from t group by Depot_Number"),
    ("unnamed-column", "with c as (select max(a) from t) select * from c"),
    ("unnamed-column", "select x.m from (select max(a) from t) as x"),
    ("duplicate-column", "with c as (select a, b as a from t) select b from c"),
    ("row-value-in", "select a from t where (a, b) in (select a, b from u)"),
    ("star-modifier", "select * exclude (a) from t"),
    ("join-using", "select a from t join u using (a)"),
    ("aggregate-filter", "select count(*) filter (where a > 1) as n from t"),
    ("distinct-on", "select distinct on (a) a, b from t"),
    ("lateral", "select a from t cross join lateral (select 1 as x) as l"),
    ("window-count-distinct", "select count(distinct ISIN) over (partition by Depot_Number) as n from t"),
    ("jinja", "select {{ ref('x') }} as a"),
]


@pytest.mark.parametrize("rule, sql", BAD, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BAD)])
def test_each_forbidden_construct_is_an_error(rule, sql):
    _, findings = check_sql(sql, "snippet", is_model=True)
    assert rule in {f.rule for f in findings if f.severity == ERROR}, findings


GOOD = [
    # import CTEs, T-SQL date arithmetic, a cast ratio, CASE flags, a ROWS frame, TOP
    """with orders as (
           select Depot_Number, Order_Date, cast(Amount_EUR as decimal(18,2)) as Amount_EUR,
                  case when lower(Remark) like '%storn%' then 1 else 0 end as is_cancellation
           from [Provisionen].[dbo].[cd_Order]
           where Order_Date >= dateadd(day, -89, cast('2025-08-20' as date))
       ),
       daily as (
           select Depot_Number, Order_Date, count(*) as n,
                  sum(count(*)) over (partition by Depot_Number order by Order_Date
                                      rows between 6 preceding and current row) as n_7d
           from orders
           where is_cancellation = 0
           group by Depot_Number, Order_Date
       )
       select Depot_Number, Order_Date,
              cast(n as float) / nullif(cast(n_7d as float), 0) as share,
              datediff(day, Order_Date, cast('2025-08-20' as date)) as age_days
       from daily""",
    "select top (5) a from t order by a",
    "select 'a || b :: limit true ilike' as s from t -- limit || :: true",
    "select sum(x) over (order by s range between unbounded preceding and current row) as s from t",
    "select a, count(*) as n from t group by a",
    "select cast(a as varchar(20)) as a, cast(b as nvarchar(max)) as b, cast(c as datetime2) as c from t",
    "delete from dbo.t where x = 1 option (maxdop 1)",
    "insert into dbo.t with (tablock) (a, b) select a, b from #stage_t",
    "select a from t where exists (select 1 from u where u.a = t.a)",
    "select a from t where a in (select max(b) from u)",
    "select a, (select max(b) from u) as m from t",
    "with c as (select a from t union all select max(b) from u) select a from c",
]


@pytest.mark.parametrize("sql", GOOD, ids=[f"good-{i}" for i in range(len(GOOD))])
def test_valid_tsql_has_no_errors(sql):
    n, findings = check_sql(sql, "snippet", is_model=sql.lstrip().lower().startswith(("with", "select")))
    assert n >= 1
    assert [f for f in findings if f.severity == ERROR] == []


def test_top_level_order_by_is_fine_outside_models():
    _, findings = check_sql("select a from t order by a", "query", is_model=False)
    assert findings == []


def test_integer_division_is_a_warning_only():
    _, findings = check_sql("select count(a) / count(b) as r from t", "snippet")
    assert [(f.rule, f.severity) for f in findings] == [("integer-division", WARN)]
    _, findings = check_sql("select cast(count(a) as float) / count(b) as r from t", "snippet")
    assert findings == []


def test_only_hints_sqlglot_cannot_parse_are_removed():
    assert for_sqlglot("INSERT INTO dbo.t WITH (TABLOCK) (a) SELECT a FROM #s") == \
        "INSERT INTO dbo.t (a) SELECT a FROM #s"
    assert for_sqlglot("DELETE FROM t WHERE a = 1 OPTION (LABEL = 'x', MAXDOP 1)").strip() == \
        "DELETE FROM t WHERE a = 1"
    cte = "WITH a AS (SELECT 1 AS x) SELECT x FROM a"
    assert for_sqlglot(cte) == cte


def test_several_statements_are_all_parsed():
    n, findings = check_sql("select 1 as a; select a::int as b from t", "batch")
    assert n == 2 and [f.rule for f in findings] == ["double-colon-cast"]


def test_variable_assignment_is_not_a_boolean_column():
    sql = "declare @s nvarchar(max) = N''; select @s = @s + name from sys.columns"
    _, findings = check_sql(sql, "batch")
    assert [f for f in findings if f.severity == ERROR] == []


def test_python_sql_literals_are_found_and_duckdb_scopes_skipped(tmp_path):
    from tools.check_sqlserver import python_sql_literals

    (tmp_path / "mod.py").write_text(
        '"""SELECT in a docstring is not SQL."""\n'
        'def load(db, table):\n'
        '    return db.query_df(f"SELECT a FROM dbo.{table} LIMIT 5")\n'
        'def _duckdb_only(con):\n'
        '    con.execute("SELECT a::int FROM t")\n'
        'Q = "DELETE FROM {table} WHERE a = ?"\n'
    )
    found = python_sql_literals(tmp_path)
    texts = [sql for _, sql in found]
    assert sorted(texts) == ["DELETE FROM X_ WHERE a = ?", "SELECT a FROM dbo.X_ LIMIT 5"]
    _, findings = check_sql("SELECT a FROM dbo.X_ LIMIT 5", "mod")
    assert "limit" in {f.rule for f in findings}


def _manifest(models: dict[str, tuple[str, list[str]]]) -> dict:
    """A minimal dbt manifest: one source table and models {name: (compiled sql, deps)}."""
    return {
        "sources": {"source.p.cd_Saldo": {
            "name": "cd_Saldo", "database": "Provisionen", "schema": "dbo", "identifier": "cd_Saldo",
            "columns": {}}},
        "nodes": {f"model.p.{name}": {
            "resource_type": "model", "name": name, "alias": name, "database": "FA", "schema": "dbo",
            "compiled_code": sql, "depends_on": {"nodes": [f"model.p.{d}" for d in deps]}}
            for name, (sql, deps) in models.items()},
    }


def test_columns_resolve_through_the_dag():
    from tools.check_sqlserver import column_findings

    ok = _manifest({
        "stg": ('select Depot_Number, cast(Cash_EUR as decimal(18,2)) as Cash '
                'from "Provisionen"."dbo"."cd_Saldo"', []),
        "mart": ('select Depot_Number, sum(Cash) as Cash from "FA"."dbo"."stg" group by Depot_Number',
                 ["stg"]),
    })
    assert column_findings(ok) == []


@pytest.mark.parametrize("sql", [
    # DuckDB accepts each of these; SQL Server does not
    'select Cash * 2 as c2, c2 + 1 as c3 from "FA"."dbo"."stg"',
    'select Cash * 2 as c2 from "FA"."dbo"."stg" where c2 > 0',
    'select Cash * 2 as c2, count(*) as n from "FA"."dbo"."stg" group by c2',
    'select No_Such_Column from "FA"."dbo"."stg"',
])
def test_alias_reuse_and_unknown_columns_are_errors(sql):
    from tools.check_sqlserver import column_findings

    bad = _manifest({
        "stg": ('select Depot_Number, Cash_EUR as Cash from "Provisionen"."dbo"."cd_Saldo"', []),
        "mart": (sql, ["stg"]),
    })
    found = column_findings(bad)
    assert [(f.where, f.rule, f.severity) for f in found] == [("model mart", "unresolved-column", ERROR)]


def test_output_tables_without_their_primary_key_fail():
    from tools.check_sqlserver import DBT_DIR, coverage_findings

    compiled = {p.stem: "select 1 as a" for p in (DBT_DIR / "models").rglob("*.sql")}
    manifest = {"nodes": {"model.p.fa_agg_buy": {
        "resource_type": "model", "name": "fa_agg_buy", "alias": "CD_FA_AGG_BUY_DEMO"}}}
    pk = ("hook fa_agg_buy CD_FA_AGG_BUY_DEMO", "exec sp_executesql N'alter table [dbo].[CD_FA_AGG_BUY_DEMO] "
          "add constraint [PK_CD_FA_AGG_BUY_DEMO] primary key clustered ([Score_Date], [Depot_Number])'")
    assert coverage_findings(compiled, [pk], manifest) == []
    missing = coverage_findings(compiled, [], manifest)
    assert [f.rule for f in missing] == ["missing-primary-key"]
    del compiled["fa_agg_buy"]
    assert "not-compiled" in {f.rule for f in coverage_findings(compiled, [pk], manifest)}


def test_output_column_types_follow_spec_5():
    from tools.check_sqlserver import type_findings

    good = {"CD_FA_LABELS_DEMO": {"score_date": "DATE", "depot_number": "VARCHAR(20)",
                                  "first_buy_date": "DATE", "label_t7": "INTEGER", "label_t30": "INT"}}
    assert type_findings(good) == []
    bad = {"CD_FA_LABELS_DEMO": {**good["CD_FA_LABELS_DEMO"], "label_t7": "BIT", "score_date": "DATETIME2"}}
    assert sorted(f.detail.split()[0] for f in type_findings(bad)) == ["label_t7", "score_date"]
    agg = {"CD_FA_AGG_BUY_DEMO": {"Score_Date": "DATE", "Cash": "FLOAT"}}
    found = {(f.rule, f.detail.split()[0 if f.rule == "column-type" else 2]) for f in type_findings(agg)}
    assert ("column-type", "cash") in found and ("missing-column", "Buys_7d") in found


def test_delete_insert_with_incremental_predicates_is_refused():
    from tools.check_sqlserver import _strategy_findings

    assert _strategy_findings("strategy fa_labels delete+insert predicates=null") == []
    assert _strategy_findings('strategy fa_agg_buy append predicates=["Score_Date > 1"]') == []
    found = _strategy_findings('strategy fa_labels delete+insert predicates=["Score_Date >= x"]')
    assert [f.rule for f in found] == ["delete-insert-predicates"]


def test_engine_specific_macros_need_a_sqlserver_version(tmp_path):
    from tools.check_sqlserver import dispatch_findings

    (tmp_path / "m.sql").write_text(
        "{% macro default__a(x) %}x{% endmacro %}{% macro sqlserver__a(x) %}x{% endmacro %}\n"
        "{%- macro duckdb__b() -%}1{%- endmacro %}\n"
        "{% macro default__get_where_subquery(relation) %}r{% endmacro %}\n")
    assert [f.where for f in dispatch_findings(tmp_path)] == ["macro b"]
    assert dispatch_findings() == []  # the project's own macros


# ---- dynamic SQL and collations --------------------------------------------------------
PK_BUILDER = """declare @s nvarchar(max) = N'';
select @s = @s + N'alter table [dbo].[t] alter column ' + quotename(c.name) + N' '
    + type_name(c.user_type_id) + N'(20)'{collate} + N' not null; '
from sys.columns as c where c.object_id = object_id('dbo.t');
exec sp_executesql @s"""


@pytest.mark.parametrize("sql", [
    "alter table dbo.t alter column Depot_Number varchar(20) not null",
    "exec sp_executesql N'alter table dbo.t alter column Depot_Number nvarchar(20) not null'",
    "exec ('alter table dbo.t alter column Depot_Number char(12) not null')",
    PK_BUILDER.format(collate=""),
])
def test_character_alter_column_without_collate_is_an_error(sql):
    _, findings = check_sql(sql, "hook")
    assert "alter-column-collate" in {f.rule for f in findings if f.severity == ERROR}, findings


@pytest.mark.parametrize("sql", [
    "alter table dbo.t alter column Depot_Number varchar(20) collate Latin1_General_CI_AS not null",
    "alter table dbo.t alter column Score_Date date not null",
    "exec sp_executesql N'alter table dbo.t alter column Score_Date date not null'",
    PK_BUILDER.format(collate=" + case when c.collation_name is null then N'' "
                              "else N' collate ' + c.collation_name end"),
])
def test_alter_column_keeping_its_collation_passes(sql):
    _, findings = check_sql(sql, "hook")
    assert [f for f in findings if f.severity == ERROR] == [], findings


def test_dynamic_sql_strings_are_checked_as_tsql():
    n, findings = check_sql("exec sp_executesql N'select a::int as b from t'; "
                            "exec ('select ''x'' as s from t limit 1')", "hook")
    assert n == 4  # two EXEC statements and the two statements inside them
    rules = {(f.where, f.rule) for f in findings}
    assert ("hook (dynamic SQL 1)", "double-colon-cast") in rules
    assert ("hook (dynamic SQL 2)", "limit") in rules


def _macro(file: str, name: str, *args) -> str:
    """One macro of dbt_project/macros/<file>, rendered with plain Jinja (no dbt)."""
    import re as _re
    from types import SimpleNamespace

    import jinja2

    from tools.check_sqlserver import DBT_DIR

    text = (DBT_DIR / "macros" / file).read_text()
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = env.from_string(text).make_module({
        "this": SimpleNamespace(schema="dbo", identifier="CD_FA_LABELS_DEMO"),
        "modules": SimpleNamespace(re=_re),
        "exceptions": SimpleNamespace(raise_compiler_error=lambda m: (_ for _ in ()).throw(ValueError(m))),
        "return": lambda value: value,  # dbt's return(): a macro's value (text here)
    })
    return str(getattr(module, name)(*args))


def _render_primary_key_hook() -> str:
    """macros/sqlserver_keys.sql's sqlserver__primary_key."""
    return _macro("sqlserver_keys.sql", "sqlserver__primary_key", ["Score_Date", "Depot_Number"])


def test_primary_key_hook_keeps_each_columns_collation():
    """Without COLLATE the key's Depot_Number takes the FA database's default collation
    while every other Depot_Number keeps Provisionen's: joins then fail with Msg 468."""
    hook = _render_primary_key_hook()
    n, findings = check_sql(hook, "primary_key hook")
    assert n >= 2 and [f for f in findings if f.severity == ERROR] == [], findings
    assert "collation_name" in hook


# ---- change detection: HASHBYTES, never CHECKSUM ---------------------------------------
@pytest.mark.parametrize("sql", [
    "select a, cast(checksum(a, b) as bigint) as Row_Hash from t",
    "select a, sum(binary_checksum(a, b)) as Sig_Hash from t group by a",
])
def test_checksum_for_change_detection_is_an_error(sql):
    _, findings = check_sql(sql, "model")
    assert "checksum-change-detection" in {f.rule for f in findings if f.severity == ERROR}


def test_checksum_as_a_candidate_key_is_allowed():
    _, findings = check_sql("select Datei_ID, checksum(Depot_Number) as key_hash from t", "model")
    assert [f for f in findings if f.severity == ERROR] == []


def test_sqlserver_row_hash_is_hashbytes_over_every_column():
    sql = _macro("incremental/depot_signatures.sql", "sqlserver__row_hash", ["w.Datei_ID", "w.Remark", "w.Units"])
    expr = f"select {sql} as Row_Hash from t as w"
    n, findings = check_sql(expr, "row_hash")
    assert n == 1 and [f for f in findings if f.severity == ERROR] == [], findings
    assert "hashbytes('sha2_256'" in sql.lower() and "checksum" not in sql.lower()
    # every column once, NULL marked apart from '' (N'~' + NULL is NULL -> N'')
    for col in ("w.Datei_ID", "w.Remark", "w.Units"):
        assert sql.count(f"coalesce(N'~' + cast({col} as nvarchar(4000)) collate Latin1_General_100_BIN2, N'')") == 1
    assert sql.count("N'|'") == 2


# ---- forms sqlglot accepts (and rewrites) that SQL Server rejects -----------------------
FORMS = [
    ("window-in-where", "select a from t where row_number() over (order by b) = 1",
     "select a from (select a, row_number() over (order by b) as rn from t) as x where rn = 1"),
    ("window-in-where", "select a, count(*) as n from t group by a having max(sum(b)) over () > 1",
     "select a, count(*) as n from t group by a having count(*) > 1"),
    ("nested-aggregate", "select max(count(*)) as m from t group by a",
     "select sum(count(*)) over (partition by a) as m from t group by a"),
    ("nested-aggregate", "select sum(row_number() over (order by b)) as s from t",
     "select max(rn) as s from (select row_number() over (order by b) as rn from t) as x"),
    ("convert-without-length", "select convert(varchar, d, 23) as s from t",
     "select convert(varchar(10), d, 23) as s from t"),
    ("convert-without-length", "select try_convert(nvarchar, d) as s from t",
     "select try_convert(nvarchar(30), d) as s from t"),
    ("top-before-distinct", "select top 5 distinct a from t order by a",
     "select distinct top 5 a from t order by a"),
    ("top-before-distinct", "select top (5) distinct a from t order by a",
     "select distinct top (5) a from t order by a"),
    ("date-unit-last", "select datediff(a, b, day) as n from t",
     "select datediff(day, a, b) as n from t"),
    ("date-unit-last", "select dateadd(Order_Date, 1, day) as n from t",
     "select dateadd(day, 1, Order_Date) as n from t"),
]


@pytest.mark.parametrize("rule, bad, good", FORMS, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(FORMS)])
def test_forms_sqlglot_accepts_but_sql_server_rejects(rule, bad, good):
    _, found = check_sql(bad, "snippet", is_model=True)
    assert rule in {f.rule for f in found if f.severity == ERROR}, found
    _, found = check_sql(good, "snippet", is_model=True)
    assert rule not in {f.rule for f in found}, found


# ---- names are case-sensitive in a BIN2 database; UNION branches agree on types --------
@pytest.mark.parametrize("sql", [
    'select depot_number from "FA"."dbo"."stg"',                  # column spelt in another case
    'select Depot_Number from "FA"."dbo"."STG"',                  # table spelt in another case
])
def test_names_must_match_case_as_in_a_bin2_database(sql):
    from tools.check_sqlserver import column_findings

    found = column_findings(_manifest({
        "stg": ('select Depot_Number, Cash_EUR as Cash from "Provisionen"."dbo"."cd_Saldo"', []),
        "mart": (sql, ["stg"]),
    }))
    assert [(f.where, f.severity) for f in found] == [("model mart", ERROR)], found


@pytest.mark.parametrize("sql, rule", [
    ('select Depot_Number as k from "FA"."dbo"."stg" union all select Cash from "FA"."dbo"."stg"',
     "union-types"),
    ('select Depot_Number, Cash from "FA"."dbo"."stg" union all select Depot_Number from "FA"."dbo"."stg"',
     "union-columns"),
])
def test_union_branches_must_agree(sql, rule):
    from tools.check_sqlserver import column_findings

    found = column_findings(_manifest({
        "stg": ('select Depot_Number, cast(Cash_EUR as decimal(18,2)) as Cash '
                'from "Provisionen"."dbo"."cd_Saldo"', []),
        "mart": (sql, ["stg"]),
    }))
    assert rule in {f.rule for f in found if f.severity == ERROR}, found


def test_union_of_one_family_passes():
    from tools.check_sqlserver import column_findings

    found = column_findings(_manifest({
        "stg": ('select Depot_Number, cast(Cash_EUR as decimal(18,2)) as Cash '
                'from "Provisionen"."dbo"."cd_Saldo"', []),
        "mart": ('select Depot_Number, Cash from "FA"."dbo"."stg" union all '
                 'select cast(null as varchar(20)), cast(1 as int) from "FA"."dbo"."stg"', ["stg"]),
    }))
    assert found == []


def test_a_view_created_by_dynamic_sql_follows_the_rules_of_a_model():
    """dbt-sqlserver creates views and tests as EXEC('create view ... as <sql>')."""
    _, found = check_sql("EXEC('create view [dbo].[v] as select a from t order by a;')", "wrapper")
    assert ("wrapper (dynamic SQL 1)", "order-by-in-view") in {(f.where, f.rule) for f in found}
    _, found = check_sql("EXEC('create view [dbo].[v] as select max(a) from t;')", "wrapper")
    assert "unnamed-column" in {f.rule for f in found}
    _, found = check_sql("EXEC('create view [dbo].[v] as select top (1) a from t order by a;')", "w")
    assert found == []


# ---- Fabric Warehouse (make check-fabric, --adapter fabric) -----------------------------
FABRIC_BAD = [
    ("fabric-type", "select cast(a as nvarchar(20)) as s from t"),
    ("fabric-type", "select convert(datetime, a) as d from t"),
    ("fabric-type", "select cast(a as datetime2) as d from t"),
    ("fabric-type", "select cast(a as datetime2(7)) as d from t"),
    ("fabric-type", "select cast(a as money) as m, cast(b as tinyint) as n from t"),
    ("fabric-type", "create table t (a int not null, b nchar(2))"),
    ("fabric-collation", "select a collate Latin1_General_100_BIN2 as a from t"),
    ("fabric-collation", "select a from t where b collate Latin1_General_BIN like '[A-Z]%'"),
    ("fabric-clustered", "alter table [dbo].[t] add constraint [PK_t] primary key clustered ([a])"),
    ("fabric-clustered", "create clustered columnstore index cci on [dbo].[t]"),
    ("fabric-index", "create index ix on [dbo].[t] (a)"),
    ("fabric-constraint", "alter table [dbo].[t] add constraint [PK_t] primary key nonclustered ([a])"),
    ("fabric-constraint", "alter table t add constraint f foreign key (a) references u (a)"),
    ("fabric-alter-column", "alter table [dbo].[t] alter column [a] date not null"),
    ("fabric-alter-column", "exec sp_executesql N'alter table t alter column a int not null'"),
]


@pytest.mark.parametrize("rule, sql", FABRIC_BAD, ids=[f"{r}-{i}" for i, (r, _) in enumerate(FABRIC_BAD)])
def test_each_construct_fabric_warehouse_lacks_is_an_error(rule, sql):
    _, findings = check_sql(sql, "unit", fabric=True)
    errors = [f for f in findings if f.severity == ERROR and f.rule == rule]
    assert errors, findings
    assert all("\n" not in str(f) for f in findings)  # one line each


FABRIC_GOOD = [
    "select cast(a as varchar(20)) collate Latin1_General_100_BIN2_UTF8 as s, "
    "cast(b as datetime2(6)) as d, cast(c as decimal(18,2)) as m, cast(e as smallint) as n from t",
    "alter table [dbo].[t] add constraint [PK_t] primary key nonclustered ([a], [b]) not enforced",
    "alter table t add constraint f foreign key (a) references u (a) not enforced",
    "declare @s nvarchar(max) = N'select 1 as a'; exec sp_executesql @s",  # never stored
    "select 'primary key clustered' as s, a collate database_default as a from t",
]


@pytest.mark.parametrize("sql", FABRIC_GOOD, ids=[f"fabric-good-{i}" for i in range(len(FABRIC_GOOD))])
def test_valid_fabric_tsql_has_no_errors(sql):
    _, findings = check_sql(sql, "unit", fabric=True)
    assert [f for f in findings if f.severity == ERROR] == [], findings


def test_fabric_rules_apply_only_with_fabric():
    """SQL Server keeps its types, collations and clustered keys."""
    for sql in ("select cast(a as nvarchar(20)) collate Latin1_General_100_BIN2 as s from t",
                "alter table [dbo].[t] add constraint [PK_t] primary key clustered ([a])"):
        _, findings = check_sql(sql, "unit")
        assert [f for f in findings if f.severity == ERROR] == [], findings


def test_nested_ctes_and_max_types_are_warnings_on_fabric():
    """Both are preview features of Fabric Warehouse; a nested CTE stays an error for SQL Server."""
    sql = "with a as (with b as (select 1 as x) select x from b) select cast(x as varchar(max)) as x from a"
    _, found = check_sql(sql, "unit", fabric=True)
    assert {(f.rule, f.severity) for f in found} == {("nested-cte", WARN), ("fabric-max-type", WARN)}
    _, found = check_sql(sql, "unit")
    assert ("nested-cte", ERROR) in {(f.rule, f.severity) for f in found}


def test_fabric_primary_key_hook_is_nonclustered_and_not_enforced():
    from tools.check_sqlserver import DBT_DIR, FABRIC, coverage_findings

    hook = _macro("sqlserver_keys.sql", "fabric__primary_key", ["Score_Date", "Depot_Number"])
    _, findings = check_sql(hook, "primary_key hook", fabric=True)
    assert [f for f in findings if f.severity == ERROR] == [], findings
    assert "alter column" not in hook.lower()
    with pytest.raises(ValueError, match="not a column name"):
        _macro("sqlserver_keys.sql", "fabric__primary_key", ["Score_Date; drop table x"])
    # the coverage check knows the Fabric key, and the SQL Server key is not one
    compiled = {p.stem: "select 1 as a" for p in (DBT_DIR / "models").rglob("*.sql")}
    manifest = {"nodes": {"model.p.fa_labels": {
        "resource_type": "model", "name": "fa_labels", "alias": "CD_FA_LABELS_DEMO"}}}
    label = "hook fa_labels CD_FA_LABELS_DEMO"
    assert coverage_findings(compiled, [(label, hook)], manifest, FABRIC) == []
    clustered = _render_primary_key_hook()
    assert [f.rule for f in coverage_findings(compiled, [(label, clustered)], manifest, FABRIC)] == [
        "missing-primary-key"]


def test_fabric_row_hash_is_varchar_under_the_utf8_binary_collation():
    sql = _macro("incremental/depot_signatures.sql", "fabric__row_hash", ["w.Datei_ID", "w.Remark"])
    n, findings = check_sql(f"select {sql} as Row_Hash from t as w", "row_hash", fabric=True)
    assert n == 1 and [f for f in findings if f.severity == ERROR] == [], findings
    for col in ("w.Datei_ID", "w.Remark"):
        assert sql.count(f"coalesce('~' + cast({col} as varchar(8000)) collate Latin1_General_100_BIN2_UTF8, '')") == 1
    assert "N'" not in sql and sql.count("'|'") == 1


def test_macros_with_a_sqlserver_version_need_a_fabric_one(tmp_path):
    """dbt-fabric looks for fabric__x, then default__x, never sqlserver__x."""
    from tools.check_sqlserver import FABRIC, dispatch_findings

    (tmp_path / "m.sql").write_text(
        "{% macro default__a(x) %}trim(x){% endmacro %}{% macro sqlserver__a(x) %}ltrim(x){% endmacro %}\n"
        "{% macro default__b(x) %}b{% endmacro %}"
        "{% macro sqlserver__b(x) %}{{ return(default__b(x)) }}{% endmacro %}\n"
        "{% macro default__c(x) %}lower(x){% endmacro %}{% macro sqlserver__c(x) %}lower(x){% endmacro %}\n"
        "{% macro sqlserver__d(x) %}d{% endmacro %}{% macro fabric__d(x) %}{{ return(sqlserver__d(x)) }}{% endmacro %}\n")
    found = dispatch_findings(tmp_path, FABRIC)
    assert [(f.where, f.rule) for f in found] == [("macro a", "no-fabric-dispatch")]
    assert "dbt-fabric would use default__a" in found[0].detail
    assert dispatch_findings(adapter=FABRIC) == []  # the project's own macros


def test_a_missing_dbt_adapter_is_one_line(monkeypatch):
    import importlib.util

    from tools.check_sqlserver import FABRIC, require_adapter

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "dbt.adapters.fabric" else real(name, *a))
    with pytest.raises(SystemExit) as exc:
        require_adapter(FABRIC)
    message = str(exc.value)
    assert message.startswith("check-fabric: dbt-fabric 1.11.1 is not installed") and "\n" not in message


def test_fabric_profile_reads_fa_fabric_variables_and_holds_no_secret():
    import re as _re

    import yaml

    from tools.check_sqlserver import DBT_DIR

    fabric = yaml.safe_load((DBT_DIR / "profiles.yml").read_text())["first_buy"]["outputs"]["fabric"]
    assert fabric["type"] == "fabric"
    found = dict(_re.findall(r"env_var\('(\w+)', '([^']*)'\)", " ".join(str(v) for v in fabric.values())))
    assert found and all(name.startswith("FA_FABRIC_") for name in found)
    assert found["FA_FABRIC_CLIENT_SECRET"] == ""
