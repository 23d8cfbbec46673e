{#- Several funds in one FA database (docs/dbt.md, *Per fund*).

    Models tagged `fund` (dbt_project.yml) depend on the fund's definition; every one of
    them is named after the fund: <model>_<CODE> (the marts keep their own aliases,
    CD_FA_AGG_BUY_<CODE> / CD_FA_LABELS_<CODE>). Every other model is built once and
    shared by all funds. -#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- elif node is not none and 'fund' in node.tags -%}
        {{ node.name ~ '_' ~ fund().code }}
    {%- else -%}
        {{ node.name }}
    {%- endif -%}
{%- endmacro %}

{#- The fund's definition as canonical text (JSON, sorted keys and lists): what its
    fund-dependent tables were computed from. Every key of var `fund` takes part (code,
    ISINs, minimum ticket, horizons and any later key such as house_isins). Built from
    validated values only (fund()), so it holds no quote. -#}
{% macro fund_definition() %}
    {%- set f = fund() -%}
    {%- set out = {'code': f.code, 'isins': f.isins, 'min_ticket_eur': f.min_ticket_eur | float,
                   'horizons': f.horizons} -%}
    {%- for key, value in var('fund').items() if key not in out -%}
        {%- if value is string or value is number or value is none -%}
            {%- do out.update({key: value}) -%}
        {%- else -%}
            {%- do out.update({key: value | map('string') | unique | sort | list}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set text = tojson(out, sort_keys=True) -%}
    {%- if "'" in text -%}
        {{ exceptions.raise_compiler_error("var 'fund' holds a quote: " ~ text) }}
    {%- endif -%}
    {{ return(text) }}
{% endmacro %}

{#- on-run-start: when the stored definition of this fund (FA_FUND_DEFINITION, one row
    per Fund_Code) differs from the current one, or is missing, drop every table of this
    fund's `fund` models, so that this run builds them from scratch; then store the
    current definition. Other funds' tables are not touched. A run killed after the drop
    leaves the old definition stored or the tables gone: either way the next run builds
    them again. Every statement runs outside a transaction (auto_begin=False: each one
    commits, as dbt runs on-run-start hooks). Skipped when compiling offline
    (force_incremental set: no database). -#}
{% macro refresh_fund_tables() %}
    {%- if not execute or var('force_incremental', none) is not none -%}{{ return('') }}{%- endif -%}
    {%- set code = fund().code -%}
    {%- set definition = fund_definition() -%}
    {%- set state = api.Relation.create(database=target.database, schema=target.schema,
                                        identifier='FA_FUND_DEFINITION') -%}
    {%- set stored = none -%}
    {%- if adapter.get_relation(database=target.database, schema=target.schema,
                                identifier='FA_FUND_DEFINITION') is none -%}
        {%- call statement('fund_definition_table', auto_begin=False) -%}
            create table {{ state }} (Fund_Code varchar(40) not null, Fund_Definition varchar(4000) not null)
        {%- endcall -%}
    {%- else -%}
        {%- call statement('fund_definition', fetch_result=True, auto_begin=False) -%}
            select Fund_Definition from {{ state }} where Fund_Code = '{{ code }}'
        {%- endcall -%}
        {%- set rows = load_result('fund_definition')['table'].rows -%}
        {%- set stored = rows[0][0] if rows | length > 0 else none -%}
    {%- endif -%}
    {%- if stored != definition -%}
        {%- for node in graph.nodes.values()
              if node.resource_type == 'model' and 'fund' in node.tags -%}
            {%- set rel = adapter.get_relation(database=node.database, schema=node.schema,
                                               identifier=node.alias) -%}
            {%- if rel is not none -%}
                {{ log("fund " ~ code ~ ": definition changed, dropping " ~ rel, info=true) }}
                {%- do adapter.drop_relation(rel) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- call statement('fund_definition_delete', auto_begin=False) -%}
            delete from {{ state }} where Fund_Code = '{{ code }}'
        {%- endcall -%}
        {%- call statement('fund_definition_insert', auto_begin=False) -%}
            insert into {{ state }} (Fund_Code, Fund_Definition) values ('{{ code }}', '{{ definition }}')
        {%- endcall -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
