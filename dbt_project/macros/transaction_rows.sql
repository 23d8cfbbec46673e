{#- The body of int_order_rows and int_booking_rows: every row of a transaction table with
    its final class (rules §1, §3, §4). Both tables follow the same rules and differ only
    in their date column and their other columns, so one macro serves both.

    staging_model: the stg_ model to classify
    source_table:  its table in the source (cd_Order / cd_Buchung), for int_file_states
    date_column:   Order_Date / Booking_Date (future_date and stale_date compare it with
                   the file's Datei_Datum)
    value_columns: the columns after Depot_Number, in output order; with the keys they
                   define an identical copy (duplicate_row)

    Classes in order: file (unknown_file, bad_file, wrong_file_type, superseded_file), the
    row-level classes of staging, future_date, stale_date, then among the valid rows
    duplicate_row, conflicting_duplicate, repeated_transaction.

    Incremental (docs/dbt.md, *Incremental transaction rows*): a row's class depends on
    its own file and on the other rows of its Transaction_Number, nothing else. The
    pre_hook (delete_changed_transaction_rows) deletes every stored row of each number
    that occurs in a file whose state changed (new, corrected, superseded, late cd_Datei
    row, rows added or gone); this body then classifies again exactly the numbers that
    have no stored row left, all their rows together. -#}
{% macro transaction_rows(staging_model, source_table, date_column, value_columns) %}
{%- set copy_columns = ['Datei_ID', 'Transaction_Number', 'Depot_Number'] + value_columns %}
{%- set hashed_columns = ['Datei_ID', 'Datei_Datum', 'Transaction_Number', 'Depot_Number'] + value_columns + ['is_cancellation'] %}
{%- set w_hashed_columns = [] %}
{%- for column in hashed_columns %}{% do w_hashed_columns.append('w.' ~ column) %}{% endfor %}
with staged as (

    select * from {{ ref(staging_model) }}

),

files as (

    select * from {{ ref('int_files') }}

),

file_states as (

    select * from {{ ref('int_file_states') }}
    where Source_Table = '{{ source_table }}'

),

{% if is_incremental() %}
stored_files as (

    select coalesce(Datei_ID, -1) as File_Key, count(*) as Stored_Rows
    from {{ this }}
    group by coalesce(Datei_ID, -1)

),

-- after the pre_hook: the files with rows not stored (new files, changed files, files
-- that held a deleted number); of those, the numbers with no stored row at all
todo_files as (

    select s.File_Key
    from file_states as s
    left join stored_files as t
        on t.File_Key = s.File_Key
    where t.File_Key is null or t.Stored_Rows <> s.Source_Rows

),

stored_numbers as (

    select distinct coalesce(Transaction_Number, '') as Number_Key
    from {{ this }}
    where coalesce(Datei_ID, -1) in (select File_Key from todo_files)

),

source_rows as (

    select *
    from staged
    where coalesce(Datei_ID, -1) in (select File_Key from todo_files)
        and coalesce(Transaction_Number, '') not in (select Number_Key from stored_numbers)

),
{% else %}
source_rows as (

    select * from staged

),
{% endif %}

with_file as (

    select
        r.*,
        f.Datei_Datum,
        coalesce(f.file_status, 'unknown_file') as File_Status,
        f.Datei_Typ,
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
        end as dq_reason,
        -- the file state the row was classified with, and the row's hash (for the depot
        -- signatures, macros/depot_signatures.sql); last: a table stored before these
        -- columns existed gets them appended, in this order
        File_Status,
        Datei_Typ,
        {{ row_hash(hashed_columns + ["case when copy_no > 1 then 'duplicate_row' when n_versions > 1 then 'conflicting_duplicate' when delivery_no > 1 then 'repeated_transaction' end"]) }} as Row_Hash
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
        w.row_reason as dq_reason,
        w.File_Status,
        w.Datei_Typ,
        {{ row_hash(w_hashed_columns + ['w.row_reason']) }} as Row_Hash
    from with_file as w
    left join repeated_numbers as n
        on n.Transaction_Number = w.Transaction_Number
    where not (w.row_reason is null and w.is_cancellation = 0 and n.Transaction_Number is not null)

),

-- the depot of each number's valid original (one per number: later deliveries are
-- repeated_transaction rows)
original_depots as (

    select Transaction_Number, min(Depot_Number) as Original_Depot
    from classified
    where dq_reason is null and is_cancellation = 0
    group by Transaction_Number

)

select
    c.*,
    -- the depot whose transactions the row can change (macros/depot_signatures.sql): a
    -- valid cancellation row changes its original's cancelled_from, whatever depot it
    -- names (often none); every other row its own depot
    case
        when c.dq_reason is null and c.is_cancellation = 1 and o.Original_Depot is not null
            then o.Original_Depot
        else c.Depot_Number
    end as Signature_Depot
from classified as c
left join original_depots as o
    on o.Transaction_Number = c.Transaction_Number
{% endmacro %}

{#- pre_hook of int_order_rows / int_booking_rows (incremental runs only): delete every
    stored row of each Transaction_Number (NULL counted as one number, '') that occurs,
    stored or in the source, in a file whose state changed since its rows were stored: row
    count, file status, type or day differ from int_file_states, or the file
    is new or left the source. The model then classifies those numbers again, all their
    rows together (the duplicate classes compare the rows of one number). Relations are
    named beside {{ this }} rather than ref()'d: a hook rendered on its own has no refs
    (the model's body refs them, so dbt builds them first). -#}
{% macro delete_changed_transaction_rows(staging_model, source_table) %}
    {%- if is_incremental() and not stored_with_columns(this, ['File_Status', 'Datei_Typ', 'Row_Hash', 'Signature_Depot']) -%}
        -- stored before the rows carried their file state, hash and signature depot (an
        -- upgrade): classify all again
        delete from {{ this }}
    {%- elif is_incremental() -%}
        {%- set states = sibling('int_file_states') -%}
        {%- set staged = sibling(staging_model) -%}
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
                group by coalesce(Datei_ID, -1)
            ) as t
                on t.File_Key = s.File_Key
                and t.Stored_Rows = s.Source_Rows
                and {{ same_file_state('t', 's') }}
            where s.File_Key is null or t.File_Key is null
        {%- endset -%}
        delete from {{ this }}
        where coalesce(Transaction_Number, '') in (
            select coalesce(Transaction_Number, '')
            from {{ this }}
            where coalesce(Datei_ID, -1) in ({{ changed_files }})

            union

            select coalesce(Transaction_Number, '')
            from {{ staged }}
            where coalesce(Datei_ID, -1) in ({{ changed_files }})
        )
    {%- endif -%}
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
