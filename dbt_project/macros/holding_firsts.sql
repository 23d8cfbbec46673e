{#- int_holding_firsts (docs/rules.md §7b) is kept between runs: an incremental run reads
    only the counting B files that its registry (int_holding_firsts_files, the B file
    states as of the end of the last run) does not hold. When a registered file changed
    since (row count, status, type or day differ from int_file_states, or it left the
    source: a correction superseding an old day, rows deleted), first dates may move
    later, which a min() cannot undo: that run recomputes the table from all B files.

    holding_firsts_mode() -> 'full' | 'incremental' (at run time; offline compilation with
    force_incremental set renders the incremental form). -#}
{% macro holding_firsts_mode() %}
    {%- if not is_incremental() -%}{{ return('full') }}{%- endif -%}
    {%- if not execute or var('force_incremental', none) is not none -%}{{ return('incremental') }}{%- endif -%}
    {%- set registry = adapter.get_relation(database=this.database, schema=this.schema,
                                            identifier='int_holding_firsts_files') -%}
    {%- if registry is none -%}{{ return('full') }}{%- endif -%}
    {%- set result = run_query(changed_registered_files_sql(registry)) -%}
    {{ return('full' if (result.columns[0].values()[0] | int) > 0 else 'incremental') }}
{% endmacro %}

{#- Number of registered files whose state is no longer the current one (per table; a
    registered file that now has rows in the other table counts too). -#}
{% macro changed_registered_files_sql(registry) -%}
    {%- set states = sibling('int_file_states') -%}
    select count(*) as n_changed
    from (
        select r.Datei_ID
        from {{ registry }} as r
        where not exists (
            select 1 from {{ states }} as s
            where s.File_Key = r.Datei_ID
                and s.Source_Table = r.Source_Table
                and s.Source_Rows = r.Source_Rows
                and {{ same_file_state('s', 'r') }}
        )

        union all

        select s.File_Key as Datei_ID
        from {{ states }} as s
        where s.Source_Table in ('cd_Saldo', 'cd_Bestand')
            and s.File_Key in (select Datei_ID from {{ registry }})
            and not exists (
                select 1 from {{ registry }} as r
                where r.Datei_ID = s.File_Key and r.Source_Table = s.Source_Table
            )
    ) as changed
{%- endmacro %}

{#- pre_hook: a full recompute of an incremental table first empties it (delete+insert
    would leave pairs that no longer occur). -#}
{% macro delete_holding_firsts_if_full() %}
    {%- if is_incremental() and holding_firsts_mode() == 'full' -%}
        delete from {{ this }}
    {%- endif -%}
{% endmacro %}

{#- The columns int_holdings adds for fa_agg_buy (docs/rules.md §7b), in table order; the
    same names as ml/features.py HOLDINGS_FEATURES. -#}
{% macro holdings_v2_columns() %}
    {{ return(['Tenure_Days', 'Cash_Change_7d', 'Cash_Change_30d', 'Portfolio_Change_7d',
               'Portfolio_Change_30d', 'Max_Position_Share', 'House_Positions', 'House_Value',
               'House_Buys_365d', 'Cooc_Score']) }}
{% endmacro %}
