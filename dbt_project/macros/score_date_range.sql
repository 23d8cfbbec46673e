{#- The Score_Date range [start_date, end_date] to build, as a dict {start, end} of ISO strings.

    Both default to the data horizon (latest Datei_Datum of a counting U file, looked up in
    the source when a var is missing). Each must be an ISO date (YYYY-MM-DD) and
    end >= start, else a compiler error. While parsing (execute = false) a placeholder
    range is returned; nothing is queried then. -#}
{% macro score_date_range() %}
    {%- set start_raw = var('start_date', none) -%}
    {%- set end_raw = var('end_date', none) -%}
    {%- if start_raw is none or end_raw is none -%}
        {%- set horizon = data_horizon_literal() -%}
        {%- if start_raw is none -%}{%- set start_raw = horizon -%}{%- endif -%}
        {%- if end_raw is none -%}{%- set end_raw = horizon -%}{%- endif -%}
    {%- endif -%}
    {%- set start = validate_iso_date(start_raw, 'start_date') -%}
    {%- set end = validate_iso_date(end_raw, 'end_date') -%}
    {%- if end < start -%}
        {{ exceptions.raise_compiler_error("end_date " ~ end ~ " is before start_date " ~ start) }}
    {%- endif -%}
    {{ return({'start': start, 'end': end}) }}
{% endmacro %}

{#- An ISO date string validated with modules.re and modules.datetime (raises otherwise). -#}
{% macro validate_iso_date(value, name) %}
    {%- set text = value | string -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error(name ~ ": '" ~ text ~ "' is not a date (expected YYYY-MM-DD)") }}
    {%- endif -%}
    {%- set year = text[0:4] | int -%}
    {%- set month = text[5:7] | int -%}
    {%- set day = text[8:10] | int -%}
    {%- if month < 1 or month > 12 or year < 1900 -%}
        {{ exceptions.raise_compiler_error(name ~ ": '" ~ text ~ "' is not a valid date") }}
    {%- endif -%}
    {%- set next_month = modules.datetime.date(year + (1 if month == 12 else 0), 1 if month == 12 else month + 1, 1) -%}
    {%- set days_in_month = (next_month - modules.datetime.date(year, month, 1)).days -%}
    {%- if day < 1 or day > days_in_month -%}
        {{ exceptions.raise_compiler_error(name ~ ": '" ~ text ~ "' is not a valid date") }}
    {%- endif -%}
    {{ return(text) }}
{% endmacro %}

{#- The data horizon as an ISO string, queried from the source (cd_Datei) at run time: the
    rule of ml/pipeline.py HORIZON_SQL and of the model int_data_horizon (three copies, each
    needed before the others exist; tests/dbt/test_rules.py checks that they agree). -#}
{% macro data_horizon_literal() %}
    {%- if not execute -%}{{ return('1900-01-01') }}{%- endif -%}
    {%- set sql -%}
        select max(Datei_Datum) as horizon
        from {{ source('provisionen', 'cd_Datei') }}
        where Datei_ID is not null and Datei_Datum is not null
          and upper({{ trim_text('Datei_Typ') }}) = 'U'
    {%- endset -%}
    {%- set result = run_query(sql) -%}
    {%- set value = result.columns[0].values()[0] if result and (result.rows | length) > 0 else none -%}
    {%- if value is none -%}
        {{ exceptions.raise_compiler_error("no counting U file in the source (cd_Datei): pass start_date/end_date or load data first") }}
    {%- endif -%}
    {{ return(value | string) }}
{% endmacro %}

{#- SQL literals for the range bounds. -#}
{% macro start_date_sql() %}cast('{{ score_date_range().start }}' as date){% endmacro %}
{% macro end_date_sql() %}cast('{{ score_date_range().end }}' as date){% endmacro %}

{#- A predicate limiting a Score_Date column to the built range (used by data tests). -#}
{% macro score_date_in_range(column='Score_Date') %}{{ column }} between {{ start_date_sql() }} and {{ end_date_sql() }}{% endmacro %}
