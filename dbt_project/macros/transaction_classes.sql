{#- Expression-sized pieces of the row classification of int_order_rows and
    int_booking_rows (rules §1, §3, §4). The models hold the logic; these macros only keep
    the two tables' column lists and class CASEs in one place. -#}

{#- The columns after Depot_Number of a transaction table, in output order
    (source_table: cd_Order / cd_Buchung); with Datei_ID, Transaction_Number and
    Depot_Number they define an identical copy (duplicate_row). The first is the table's
    date column. -#}
{% macro transaction_value_columns(source_table) %}
    {%- if source_table == 'cd_Order' -%}
        {{ return(['Order_Date', 'OrderType', 'ISIN', 'Units', 'Amount_EUR', 'Remark']) }}
    {%- elif source_table == 'cd_Buchung' -%}
        {{ return(['Booking_Date', 'Booking_Type', 'Amount_EUR', 'Remark']) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error('no transaction table ' ~ source_table) }}
{% endmacro %}

{#- The columns a row's Row_Hash covers (before its class), in order. -#}
{% macro transaction_hashed_columns(source_table, alias='') %}
    {%- set out = [] -%}
    {%- for column in ['Datei_ID', 'Datei_Datum', 'Transaction_Number', 'Depot_Number']
            + transaction_value_columns(source_table) + ['is_cancellation'] -%}
        {%- do out.append(alias ~ column) -%}
    {%- endfor -%}
    {{ return(out) }}
{% endmacro %}

{#- The file classes of rules §1, in order, as `when` branches of a CASE: a row of an unknown,
    bad, wrong-type or superseded file. status/typ: the file's File_Status and Datei_Typ
    columns; expected_type: 'U' for orders and bookings, 'B' for saldo and positions.
    Shared by the transaction row models and int_holdings_file_quality. -#}
{% macro file_class_branches(status, typ, expected_type) -%}
            when {{ status }} is null or {{ status }} = 'unknown_file' then 'unknown_file'
            when {{ status }} = 'bad_file' then 'bad_file'
            when {{ typ }} <> '{{ expected_type }}' then 'wrong_file_type'
            when {{ status }} = 'superseded_file' then 'superseded_file'
{%- endmacro %}

{#- A transaction row's class before the duplicate classes: file class, then staging's
    row-level class, none for a cancellation row, then future_date / stale_date (the
    row's date against its file's Datei_Datum). r: the staged row, f: its int_file_states
    row. -#}
{% macro transaction_row_class(date_column) -%}
case
            {{ file_class_branches('f.File_Status', 'f.Datei_Typ', 'U') }}
            when r.dq_reason is not null then r.dq_reason
            when r.is_cancellation = 1 then null
            when r.{{ date_column }} > f.Datei_Datum then 'future_date'
            when r.{{ date_column }} < {{ add_days('f.Datei_Datum', -366) }} then 'stale_date'
        end
{%- endmacro %}

{#- The duplicate class of a repeated valid row from its copy number, the versions of its
    number in its file and its delivery number (NULL: it stays valid). -#}
{% macro duplicate_class() -%}
case when copy_no > 1 then 'duplicate_row' when n_versions > 1 then 'conflicting_duplicate' when delivery_no > 1 then 'repeated_transaction' end
{%- endmacro %}
