{#- The body of int_order_rows and int_booking_rows: every row of a transaction table with
    its final class (rules §1, §3, §4). Both tables follow the same rules and differ only
    in their date column and their other columns, so one macro serves both.

    staging_model: the stg_ model to classify
    date_column:   Order_Date / Booking_Date (future_date and stale_date compare it with
                   the file's Datei_Datum)
    value_columns: the columns after Depot_Number, in output order; with the keys they
                   define an identical copy (duplicate_row)

    Classes in order: file (unknown_file, bad_file, wrong_file_type, superseded_file), the
    row-level classes of staging, future_date, stale_date, then among the valid rows
    duplicate_row, conflicting_duplicate, repeated_transaction. -#}
{% macro transaction_rows(staging_model, date_column, value_columns) %}
{%- set copy_columns = ['Datei_ID', 'Transaction_Number', 'Depot_Number'] + value_columns %}
with source_rows as (

    select * from {{ ref(staging_model) }}

),

files as (

    select * from {{ ref('int_files') }}

),

with_file as (

    select
        r.*,
        f.Datei_Datum,
        case
            {{ file_class_branches('f.file_status', 'f.Datei_Typ', 'U') }}
            when r.dq_reason is not null then r.dq_reason
            when r.is_cancellation = 1 then null
            when r.{{ date_column }} > f.Datei_Datum then 'future_date'
            when r.{{ date_column }} < {{ add_days('f.Datei_Datum', -366) }} then 'stale_date'
        end as row_reason
    from source_rows as r
    left join files as f
        on f.Datei_ID = r.Datei_ID

),

-- Transaction numbers with more than one candidate row (valid so far, not a
-- cancellation). The duplicate classes compare rows of one number only: the copies,
-- versions and first-delivery windows all partition by Transaction_Number, so a candidate
-- whose number occurs once is alone in each (first copy, one version, first delivery) and
-- stays valid. Only the rows of repeated numbers go through the windows: a narrow
-- aggregate instead of three sorts of every row ever delivered, which made the daily run
-- grow faster than the history (docs/performance.md, section 4).
repeated_numbers as (

    select Transaction_Number
    from with_file
    where row_reason is null and is_cancellation = 0
    group by Transaction_Number
    having count(*) > 1

),

repeated_rows as (

    select w.*
    from with_file as w
    inner join repeated_numbers as n
        on n.Transaction_Number = w.Transaction_Number
    where w.row_reason is null and w.is_cancellation = 0

),

copies as (

    select
        *,
        row_number() over (
            partition by {{ copy_columns | join(', ') }}
            order by Datei_ID
        ) as copy_no
    from repeated_rows

),

versions as (

    select
        *,
        count(*) over (
            partition by case when copy_no = 1 then 1 else 0 end, Datei_ID, Transaction_Number
        ) as n_versions
    from copies

),

deliveries as (

    select
        *,
        row_number() over (
            partition by case when copy_no = 1 and n_versions = 1 then 1 else 0 end, Transaction_Number
            order by Datei_Datum, Datei_ID
        ) as delivery_no
    from versions

),

classified as (

    select
        Datei_ID,
        Datei_Datum,
        Transaction_Number,
        Depot_Number,
        {%- for column in value_columns %}
        {{ column }},
        {%- endfor %}
        is_cancellation,
        case
            when copy_no > 1 then 'duplicate_row'
            when n_versions > 1 then 'conflicting_duplicate'
            when delivery_no > 1 then 'repeated_transaction'
        end as dq_reason
    from deliveries

    union all

    -- every other row keeps its class so far (NULL: a valid candidate of a number that
    -- occurs once, or a cancellation row of a counting file)
    select
        w.Datei_ID,
        w.Datei_Datum,
        w.Transaction_Number,
        w.Depot_Number,
        {%- for column in value_columns %}
        w.{{ column }},
        {%- endfor %}
        w.is_cancellation,
        w.row_reason as dq_reason
    from with_file as w
    left join repeated_numbers as n
        on n.Transaction_Number = w.Transaction_Number
    where not (w.row_reason is null and w.is_cancellation = 0 and n.Transaction_Number is not null)

)

select * from classified
{% endmacro %}

{#- The file classes of rules §1, in order, as `when` branches of a CASE: a row of an unknown,
    bad, wrong-type or superseded file. status/typ: the file's File_Status and Datei_Typ
    columns; expected_type: 'U' for orders and bookings, 'B' for saldo and positions.
    Shared by transaction_rows and int_holdings_file_quality. -#}
{% macro file_class_branches(status, typ, expected_type) -%}
            when {{ status }} is null or {{ status }} = 'unknown_file' then 'unknown_file'
            when {{ status }} = 'bad_file' then 'bad_file'
            when {{ typ }} <> '{{ expected_type }}' then 'wrong_file_type'
            when {{ status }} = 'superseded_file' then 'superseded_file'
{%- endmacro %}
