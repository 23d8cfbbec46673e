{#- Everything that is written differently on DuckDB and SQL Server, one dispatched macro each.
    default__ is the DuckDB form (the embedded default); sqlserver__ is T-SQL. fabric__ is
    Fabric Warehouse (dbt-fabric, `make check-fabric`): dbt-fabric looks for fabric__ and
    then default__, never sqlserver__, so every macro with a sqlserver__ form has a
    fabric__ one, most of them the sqlserver__ form itself (docs/scale.md). -#}

{#- Trimmed text (both sides). SQL Server < 2017 has no TRIM(). -#}
{% macro trim_text(expr) %}{{ return(adapter.dispatch('trim_text')(expr)) }}{% endmacro %}
{% macro default__trim_text(expr) %}trim({{ expr }}){% endmacro %}
{% macro sqlserver__trim_text(expr) %}ltrim(rtrim({{ expr }})){% endmacro %}
{% macro fabric__trim_text(expr) %}{{ return(sqlserver__trim_text(expr)) }}{% endmacro %}

{#- The Remark as compared (rules §9): trimmed, lower-cased, blank = NULL. SQL Server's
    usual collations compare case-insensitively and ignore trailing blanks, DuckDB compares
    exactly; normalised, the copy partition (duplicate_row) is the same on both. SQL Server
    also gets a binary collation, so an accent-insensitive database does not merge what
    DuckDB keeps apart. -#}
{% macro normalised_remark(remark) %}{{ return(adapter.dispatch('normalised_remark')(remark)) }}{% endmacro %}
{% macro default__normalised_remark(remark) %}nullif(lower(trim({{ remark }})), ''){% endmacro %}
{% macro sqlserver__normalised_remark(remark, collation='Latin1_General_100_BIN2') -%}
    nullif(lower(ltrim(rtrim({{ remark }}))), '') collate {{ collation }}
{%- endmacro %}
{#- Fabric Warehouse has two collations, both UTF-8: the binary one. -#}
{% macro fabric__normalised_remark(remark) -%}
    {{ return(sqlserver__normalised_remark(remark, 'Latin1_General_100_BIN2_UTF8')) }}
{%- endmacro %}

{#- Predicate: the remark marks a cancellation (rules §3): lower(remark) contains 'storn'.
    Lower-casing makes DuckDB's case-sensitive LIKE and SQL Server's case-insensitive
    collation agree. NULL remark -> not a cancellation. -#}
{% macro is_storno(remark) %}{{ return(adapter.dispatch('is_storno')(remark)) }}{% endmacro %}
{% macro default__is_storno(remark) %}lower({{ remark }}) like '%storn%'{% endmacro %}
{% macro sqlserver__is_storno(remark) %}lower({{ remark }}) like '%storn%'{% endmacro %}

{#- Predicate: expr (already trimmed and upper-cased) is of the ISIN form
    [A-Z]{2}[A-Z0-9]{9}[0-9]. SQL Server: LIKE with character classes under a binary
    collation, so [A-Z] means exactly the 26 letters. DuckDB: GLOB with the same classes
    (a whole-string match, like the regular expression, but about 20x faster: 0.5 s ->
    0.02 s over 15M cd_Bestand rows, and every read of a staging view evaluates it;
    docs/performance.md, section 9). -#}
{% macro isin_is_valid(expr) %}{{ return(adapter.dispatch('isin_is_valid')(expr)) }}{% endmacro %}
{% macro default__isin_is_valid(expr) %}regexp_full_match({{ expr }}, '[A-Z]{2}[A-Z0-9]{9}[0-9]'){% endmacro %}
{% macro duckdb__isin_is_valid(expr) -%}
    (length({{ expr }}) = 12
     and {{ expr }} glob '[A-Z][A-Z][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][0-9]')
{%- endmacro %}
{% macro sqlserver__isin_is_valid(expr, collation='Latin1_General_BIN') -%}
    (len({{ expr }}) = 12
     and {{ expr }} collate {{ collation }} like
       '[A-Z][A-Z][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][0-9]')
{%- endmacro %}
{#- Fabric Warehouse: the same LIKE under its binary UTF-8 collation (Latin1_General_BIN is
    not one of its two collations); [A-Z] compares code points there too. -#}
{% macro fabric__isin_is_valid(expr) -%}
    {{ return(sqlserver__isin_is_valid(expr, 'Latin1_General_100_BIN2_UTF8')) }}
{%- endmacro %}

{#- A date plus n days (n an integer expression); the result is a DATE. -#}
{% macro add_days(date_expr, n) %}{{ return(adapter.dispatch('add_days')(date_expr, n)) }}{% endmacro %}
{% macro default__add_days(date_expr, n) %}cast(({{ date_expr }}) + cast({{ n }} as integer) as date){% endmacro %}
{% macro sqlserver__add_days(date_expr, n) %}dateadd(day, {{ n }}, {{ date_expr }}){% endmacro %}
{% macro fabric__add_days(date_expr, n) %}{{ return(sqlserver__add_days(date_expr, n)) }}{% endmacro %}

{#- Whole days from a to b (b - a), an integer. -#}
{% macro days_between(a, b) %}{{ return(adapter.dispatch('days_between')(a, b)) }}{% endmacro %}
{% macro default__days_between(a, b) %}cast(date_diff('day', {{ a }}, {{ b }}) as integer){% endmacro %}
{% macro sqlserver__days_between(a, b) %}datediff(day, {{ a }}, {{ b }}){% endmacro %}
{% macro fabric__days_between(a, b) %}{{ return(sqlserver__days_between(a, b)) }}{% endmacro %}

{#- A date as a day number (days since 1970-01-01) and back: lets min/max over dates be
    carried in integer running sums (see int_feature_deltas). -#}
{% macro day_number(date_expr) %}{{ days_between("cast('1970-01-01' as date)", date_expr) }}{% endmacro %}
{% macro from_day_number(n) %}{{ add_days("cast('1970-01-01' as date)", n) }}{% endmacro %}

{#- num / den as a double; NULL when den is 0 or NULL (casts first: no integer division). -#}
{% macro safe_divide(num, den) %}{{ return(adapter.dispatch('safe_divide')(num, den)) }}{% endmacro %}
{% macro default__safe_divide(num, den) -%}
    case when ({{ den }}) = 0 then null else cast({{ num }} as {{ t_double() }}) / cast({{ den }} as {{ t_double() }}) end
{%- endmacro %}
{% macro sqlserver__safe_divide(num, den) -%}
    case when ({{ den }}) = 0 then null else cast({{ num }} as float) / cast({{ den }} as float) end
{%- endmacro %}
{% macro fabric__safe_divide(num, den) %}{{ return(sqlserver__safe_divide(num, den)) }}{% endmacro %}

{#- Column types of the outputs. DuckDB's FLOAT is 4 bytes, hence our own double. -#}
{% macro t_double() %}{{ return(adapter.dispatch('t_double')()) }}{% endmacro %}
{% macro default__t_double() %}double{% endmacro %}
{% macro sqlserver__t_double() %}float{% endmacro %}
{% macro fabric__t_double() %}{{ return(sqlserver__t_double()) }}{% endmacro %}

{% macro t_text(n) %}{{ return(adapter.dispatch('t_text')(n)) }}{% endmacro %}
{% macro default__t_text(n) %}varchar{% endmacro %}
{% macro sqlserver__t_text(n) %}varchar({{ n }}){% endmacro %}
{% macro fabric__t_text(n) %}{{ return(sqlserver__t_text(n)) }}{% endmacro %}

{% macro t_int() %}integer{% endmacro %}
{% macro t_money() %}decimal(18,2){% endmacro %}

{#- One row per day in [start, end] (column Score_Date): a complete FROM-able select. -#}
{% macro day_spine(start_sql, end_sql) %}{{ return(adapter.dispatch('day_spine')(start_sql, end_sql)) }}{% endmacro %}
{% macro default__day_spine(start_sql, end_sql) -%}
    select cast(generate_series as date) as Score_Date
    from generate_series(cast({{ start_sql }} as timestamp), cast({{ end_sql }} as timestamp), interval 1 day)
{%- endmacro %}
{% macro sqlserver__day_spine(start_sql, end_sql) -%}
    select dateadd(day, digits.n, {{ start_sql }}) as Score_Date
    from (
        select d0.d + 10 * d1.d + 100 * d2.d + 1000 * d3.d + 10000 * d4.d as n
        from (values (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) as d0(d)
        cross join (values (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) as d1(d)
        cross join (values (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) as d2(d)
        cross join (values (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) as d3(d)
        cross join (values (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) as d4(d)
    ) as digits
    where digits.n <= datediff(day, {{ start_sql }}, {{ end_sql }})
{%- endmacro %}
{% macro fabric__day_spine(start_sql, end_sql) %}{{ return(sqlserver__day_spine(start_sql, end_sql)) }}{% endmacro %}
