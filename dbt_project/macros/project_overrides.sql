{#- Everything lands in the target schema (dbo): custom schema names are ignored. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema }}
{%- endmacro %}

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
