{#- Expression-sized pieces of the row classification of int_transaction_rows (rules §1,
    §3, §4). The model holds the logic; these macros only keep the two tables' column
    lists and class CASEs in one place. -#}

{#- The transaction tables, each with its staging model (int_transaction_rows reads both;
    its pre_hooks and its Row_Hash take a table's staging model and columns from here). -#}
{% macro transaction_tables() %}
    {{ return({'cd_Order': 'stg_provisionen__order', 'cd_Buchung': 'stg_provisionen__buchung'}) }}
{% endmacro %}

{#- The value columns of int_transaction_rows (after Depot_Number), in output order:
    the date (a cd_Order row's Order_Date, a cd_Buchung row's Booking_Date), then each
    table's own columns (NULL in the other table's rows). With Source_Table, Datei_ID,
    Transaction_Number and Depot_Number they define an identical copy (duplicate_row).
    source_table (cd_Order / cd_Buchung): only the columns that table has. -#}
{% macro transaction_value_columns(source_table=none) %}
    {%- if source_table is none -%}
        {{ return(['Transaction_Date', 'OrderType', 'ISIN', 'Units', 'Booking_Type', 'Amount_EUR', 'Remark']) }}
    {%- elif source_table == 'cd_Order' -%}
        {{ return(['Transaction_Date', 'OrderType', 'ISIN', 'Units', 'Amount_EUR', 'Remark']) }}
    {%- elif source_table == 'cd_Buchung' -%}
        {{ return(['Transaction_Date', 'Booking_Type', 'Amount_EUR', 'Remark']) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error('no transaction table ' ~ source_table) }}
{% endmacro %}

{#- The columns of a row after Source_Table and before its class, in order: the file, the
    keys, the value columns, is_cancellation (source_table none: both tables' columns, as
    int_transaction_rows has them; a table: only its own, the columns its rows' Row_Hash
    covers). -#}
{% macro transaction_columns(source_table=none, alias='') %}
    {%- set out = [] -%}
    {%- for column in ['Datei_ID', 'Datei_Datum', 'Transaction_Number', 'Depot_Number']
            + transaction_value_columns(source_table) + ['is_cancellation'] -%}
        {%- do out.append(alias ~ column) -%}
    {%- endfor -%}
    {{ return(out) }}
{% endmacro %}

{#- A row's Row_Hash (macro row_hash) over its table's columns and its class: the same
    value as when each table had its own rows model, so stored depot signatures stay
    valid. -#}
{% macro transaction_row_hash(class_expr, alias='') -%}
case {{ alias }}Source_Table
            {%- for table in transaction_tables() %}
            when '{{ table }}' then {{ row_hash(transaction_columns(table, alias) + [class_expr]) }}
            {%- endfor %}
        end
{%- endmacro %}

{#- The file classes of rules §1, in order, as `when` branches of a CASE: a row of an unknown,
    bad, wrong-type or superseded file. status/typ: the file's File_Status and Datei_Typ
    columns; expected_type: 'U' for orders and bookings, 'B' for saldo and positions.
    Shared by int_transaction_rows and int_holdings_file_quality. -#}
{% macro file_class_branches(status, typ, expected_type) -%}
            when {{ status }} is null or {{ status }} = 'unknown_file' then 'unknown_file'
            when {{ status }} = 'bad_file' then 'bad_file'
            when {{ typ }} <> '{{ expected_type }}' then 'wrong_file_type'
            when {{ status }} = 'superseded_file' then 'superseded_file'
{%- endmacro %}

{#- A transaction row's class before the duplicate classes: file class, then staging's
    row-level class, none for a cancellation row, then future_date / stale_date (the
    row's Transaction_Date against its file's Datei_Datum). r: the staged row, f: its
    int_file_states row. -#}
{% macro transaction_row_class() -%}
case
            {{ file_class_branches('f.File_Status', 'f.Datei_Typ', 'U') }}
            when r.dq_reason is not null then r.dq_reason
            when r.is_cancellation = 1 then null
            when r.Transaction_Date > f.Datei_Datum then 'future_date'
            when r.Transaction_Date < {{ add_days('f.Datei_Datum', -366) }} then 'stale_date'
        end
{%- endmacro %}

{#- The duplicate class of a repeated valid row from its copy number, the versions of its
    number in its file and its delivery number (NULL: it stays valid). -#}
{% macro duplicate_class() -%}
case when copy_no > 1 then 'duplicate_row' when n_versions > 1 then 'conflicting_duplicate' when delivery_no > 1 then 'repeated_transaction' end
{%- endmacro %}

{#- Staging of both transaction tables (stg_provisionen__order, __buchung), the parts that
    are one rule for both. The key columns (rules §2): the file, the transaction number and
    the depot, trimmed, blank = NULL. -#}
{% macro transaction_key_columns() -%}
cast(Datei_ID as integer) as Datei_ID,
        nullif({{ trim_text('Transaction_Number') }}, '') as Transaction_Number,
        nullif({{ trim_text('Depot_Number') }}, '') as Depot_Number
{%- endmacro %}

{#- The cancellation columns (rules §3): Remark normalised (trimmed, lower-cased, blank =
    NULL) and is_cancellation, 1 when the remark names a Storno. -#}
{% macro cancellation_columns() -%}
{{ normalised_remark('Remark') }} as Remark,
        case when {{ is_storno('Remark') }} then 1 else 0 end as is_cancellation
{%- endmacro %}

{#- The first branches of a transaction row's dq_reason (rules §3, §4): a cancellation is
    recognised before anything else and only its key matters; then a missing key. -#}
{% macro transaction_key_class_branches() -%}
when is_cancellation = 1 and Transaction_Number is null then 'null_key'
            when is_cancellation = 1 then null
            when Transaction_Number is null or Depot_Number is null then 'null_key'
{%- endmacro %}
