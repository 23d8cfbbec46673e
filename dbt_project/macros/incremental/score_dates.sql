{#- Per-Score_Date change detection (docs/dbt.md, *Incremental design*): the marts keep
    whole days; a run replaces the days of [start_date, end_date]. -#}

{#- pre_hook of the incremental marts: remove every row of the Score_Dates being rebuilt,
    so a depot that left the universe (or the source) disappears from them. Empty (no
    statement) on the first build. -#}
{% macro delete_score_dates() %}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ score_date_in_range('Score_Date') }}
    {%- endif -%}
{% endmacro %}
