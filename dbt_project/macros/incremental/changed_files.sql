{#- Per-file change detection (docs/dbt.md, *Incremental design*): the models kept per
    file (int_holdings_file_quality) or per transaction number of a file and table
    (int_transaction_rows) store the file state each row was computed with (row count,
    status, type, day); a run compares it with int_file_states and deletes what a changed
    file can change, then the model computes what has no stored row. -#}

{#- pre_hook of int_holdings_file_quality (incremental runs only): delete the stored counts
    of every file whose state changed since they were stored (row count, file status, type
    or day differ from int_file_states, or the file left the source), and of the
    rows without a Datei_ID (always redone). The model then classifies those files again.
    A file with a change is deleted for both tables (a Datei_ID usually has both).
    int_file_states is named beside {{ this }} rather than ref()'d: the model's
    body refs it (so dbt builds it first), and a hook rendered on its own has no refs. -#}
{% macro delete_changed_holdings_files() %}
    {%- if is_incremental() -%}
        {%- set states = sibling('int_file_states') -%}
        delete from {{ this }}
        where Datei_ID is null
            or Datei_ID in (
                select t.Datei_ID
                from {{ this }} as t
                left join {{ states }} as s
                    on s.File_Key = t.Datei_ID
                    and s.Source_Table = t.Source_Table
                    and s.Source_Rows = t.Source_Rows
                    and {{ same_file_state('s', 't') }}
                where t.Datei_ID is not null and s.File_Key is null
            )
    {%- endif -%}
{% endmacro %}

{#- The file state columns of two relations (aliases a, b) are equal, NULLs equal to NULLs:
    File_Status, Datei_Typ, Datei_Datum (int_file_states and what an incremental model
    stored with its rows). -#}
{% macro same_file_state(a, b) -%}
{{ a }}.File_Status = {{ b }}.File_Status
    and coalesce({{ a }}.Datei_Typ, '-') = coalesce({{ b }}.Datei_Typ, '-')
    and coalesce({{ a }}.Datei_Datum, cast('1900-01-01' as date))
        = coalesce({{ b }}.Datei_Datum, cast('1900-01-01' as date))
{%- endmacro %}

{#- A hash of key columns, used only to find candidate duplicate keys cheaply (a collision
    only adds a candidate, which the exact grouping then clears). -#}
{% macro key_hash(columns) %}{{ return(adapter.dispatch('key_hash')(columns)) }}{% endmacro %}
{% macro default__key_hash(columns) %}hash({{ columns | join(', ') }}){% endmacro %}
{% macro sqlserver__key_hash(columns) %}checksum({{ columns | join(', ') }}){% endmacro %}
{% macro fabric__key_hash(columns) %}{{ return(sqlserver__key_hash(columns)) }}{% endmacro %}

{#- pre_hook of int_transaction_rows for one of its tables (cd_Order / cd_Buchung;
    incremental runs only; one hook per table): delete every stored row of the table of
    each Transaction_Number (NULL counted as one number, '') that occurs, stored or in the
    table's staging model, in a file whose state in that table changed since its rows
    were stored: row count, file status, type or day differ from int_file_states, or the
    file is new or left the table. The model then classifies those numbers again, all
    their rows together (the duplicate classes compare the rows of one number of one
    table). Relations are named beside {{ this }} rather than ref()'d: a hook rendered on
    its own has no refs (the model's body refs them, so dbt builds them first). -#}
{% macro delete_changed_transaction_rows(source_table) %}
    {%- if is_incremental() -%}
        {%- set states = sibling('int_file_states') -%}
        {%- set staged = sibling(transaction_tables()[source_table]) -%}
        {%- set changed_files -%}
            select coalesce(s.File_Key, t.File_Key)
            from (
                select File_Key, Source_Rows, File_Status, Datei_Typ, Datei_Datum
                from {{ states }}
                where Source_Table = '{{ source_table }}'
            ) as s
            full outer join (
                select
                    coalesce(Datei_ID, -1) as File_Key,
                    count(*) as Stored_Rows,
                    min(File_Status) as File_Status,
                    min(Datei_Typ) as Datei_Typ,
                    min(Datei_Datum) as Datei_Datum
                from {{ this }}
                where Source_Table = '{{ source_table }}'
                group by coalesce(Datei_ID, -1)
            ) as t
                on t.File_Key = s.File_Key
                and t.Stored_Rows = s.Source_Rows
                and {{ same_file_state('t', 's') }}
            where s.File_Key is null or t.File_Key is null
        {%- endset -%}
        delete from {{ this }}
        where Source_Table = '{{ source_table }}'
            and coalesce(Transaction_Number, '') in (
                select coalesce(Transaction_Number, '')
                from {{ this }}
                where Source_Table = '{{ source_table }}'
                    and coalesce(Datei_ID, -1) in ({{ changed_files }})

                union

                select coalesce(Transaction_Number, '')
                from {{ staged }}
                where coalesce(Datei_ID, -1) in ({{ changed_files }})
            )
    {%- endif -%}
{% endmacro %}
