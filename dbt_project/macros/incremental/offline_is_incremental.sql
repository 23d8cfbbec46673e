{#- dbt's is_incremental(), answered by var('force_incremental') when that var is set, for
    offline compilation only; unset (every real run), the answer is dbt's own.

    Why dbt's own cannot serve there: `dbt compile` for SQL Server connects first; offline
    it needs `--no-populate-cache --no-introspect` and then dbt's is_incremental() answers
    false (it asks the database whether {{ this }} exists), so the incremental form of a
    model could never be rendered without a server. tools/check_sqlserver.py compiles
    every model twice offline (force_incremental false / true) to check both forms as
    T-SQL; that is the one caller. -#}
{% macro is_incremental() %}
    {%- set forced = var('force_incremental', none) -%}
    {%- if forced is not none -%}
        {{ return(forced in [true, 'true', 'True', 1, '1']) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}
