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
