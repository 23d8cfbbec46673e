{#- Everything lands in the target schema (dbo): custom schema names are ignored. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema }}
{%- endmacro %}

{#- dbt's is_incremental(), with one addition: var('force_incremental') (true/false) overrides
    the answer. Only for offline compilation (e.g. rendering the incremental branch for SQL
    Server without a server); unset, the behaviour is dbt's own. -#}
{% macro is_incremental() %}
    {%- set forced = var('force_incremental', none) -%}
    {%- if forced is not none -%}
        {{ return(forced in [true, 'true', 'True', 1, '1']) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}

{#- Data tests: a `where` config may contain the token __SCORE_DATES__, replaced by
    "Score_Date between <start_date> and <end_date>" of this run, so the daily test cost does
    not grow with history. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- if '__SCORE_DATES__' in where -%}
            {%- set where = where | replace('__SCORE_DATES__', score_date_in_range('Score_Date')) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of the incremental marts: remove every row of the Score_Dates being rebuilt,
    so a depot that left the universe (or the source) disappears from them. Empty (no
    statement) on the first build. -#}
{% macro delete_score_dates() %}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ score_date_in_range('Score_Date') }}
    {%- endif -%}
{% endmacro %}
