{{
    config(
        materialized='incremental',
        pre_hook=[
            "{{ delete_changed_transaction_rows('cd_Order') }}",
            "{{ delete_changed_transaction_rows('cd_Buchung') }}",
        ],
    )
}}
-- Every cd_Order and cd_Buchung row with its final class (rules §1, §3, §4): dq_reason
-- NULL for valid rows and for cancellation rows of counting U files; is_cancellation as in
-- staging. Classes in order: file (unknown_file, bad_file, wrong_file_type,
-- superseded_file), the row-level classes of staging, future_date, stale_date, then among
-- the valid rows duplicate_row, conflicting_duplicate, repeated_transaction.
--
-- Both tables follow the same rules, one table at a time: every grouping and window below
-- partitions by Source_Table, so an order and a booking never meet (the same
-- Transaction_Number may be a valid order and a valid booking). Each row has its table's
-- columns; the other table's are NULL (macros/transaction_classes.sql).
--
-- Kept between runs per (Source_Table, Transaction_Number) (docs/dbt.md, *Incremental
-- design*): a row's class depends on its own file and on the other rows of its number in
-- its table, nothing else. The pre_hooks (macros/incremental/changed_files.sql), one per
-- table, delete every stored row of each number that occurs in a file whose state in that
-- table changed (new, corrected, superseded, late cd_Datei row, rows added or gone); this
-- model then classifies again exactly the numbers that have no stored row left, all their
-- rows together.
{%- set copy_columns = ['Source_Table', 'Datei_ID', 'Transaction_Number', 'Depot_Number'] + transaction_value_columns() %}
with staged as (

    select
        'cd_Order' as Source_Table,
        Datei_ID,
        Transaction_Number,
        Depot_Number,
        Order_Date as Transaction_Date,
        OrderType,
        ISIN,
        Units,
        cast(null as {{ t_text(20) }}) as Booking_Type,
        Amount_EUR,
        Remark,
        is_cancellation,
        dq_reason
    from {{ ref('stg_provisionen__order') }}

    union all

    select
        'cd_Buchung' as Source_Table,
        Datei_ID,
        Transaction_Number,
        Depot_Number,
        Booking_Date as Transaction_Date,
        cast(null as {{ t_text(20) }}) as OrderType,
        cast(null as {{ t_text(12) }}) as ISIN,
        cast(null as decimal(18,6)) as Units,
        Booking_Type,
        Amount_EUR,
        Remark,
        is_cancellation,
        dq_reason
    from {{ ref('stg_provisionen__buchung') }}

),

file_states as (

    select * from {{ ref('int_file_states') }}
    where Source_Table in ('cd_Order', 'cd_Buchung')

),

{% if is_incremental() %}
stored_files as (

    select Source_Table, coalesce(Datei_ID, -1) as File_Key, count(*) as Stored_Rows
    from {{ this }}
    group by Source_Table, coalesce(Datei_ID, -1)

),

-- after the pre_hooks: the files with rows of a table not stored (new files, changed
-- files, files that held a deleted number); of those, the numbers with no stored row at
-- all in that table
todo_files as (

    select s.Source_Table, s.File_Key
    from file_states as s
    left join stored_files as t
        on t.Source_Table = s.Source_Table
        and t.File_Key = s.File_Key
    where t.File_Key is null or t.Stored_Rows <> s.Source_Rows

),

stored_numbers as (

    select distinct t.Source_Table, coalesce(t.Transaction_Number, '') as Number_Key
    from {{ this }} as t
    inner join todo_files as f
        on f.Source_Table = t.Source_Table
        and f.File_Key = coalesce(t.Datei_ID, -1)

),

source_rows as (

    select s.*
    from staged as s
    inner join todo_files as f
        on f.Source_Table = s.Source_Table
        and f.File_Key = coalesce(s.Datei_ID, -1)
    left join stored_numbers as n
        on n.Source_Table = s.Source_Table
        and n.Number_Key = coalesce(s.Transaction_Number, '')
    where n.Number_Key is null

),
{% else %}
source_rows as (

    select * from staged

),
{% endif %}

with_file as (

    -- the file's state in the row's table as int_file_states has it now (what the
    -- pre_hooks compare the stored rows with); no state: a row without a Datei_ID
    -- (unknown_file)
    select
        r.*,
        f.Datei_Datum,
        coalesce(f.File_Status, 'unknown_file') as File_Status,
        f.Datei_Typ,
        {{ transaction_row_class() }} as row_reason
    from source_rows as r
    left join file_states as f
        on f.Source_Table = r.Source_Table
        and f.File_Key = r.Datei_ID

),

-- Transaction numbers of a table with more than one candidate row (valid so far, not a
-- cancellation). The duplicate classes compare rows of one number of one table only: the
-- copies, versions and first-delivery windows all partition by Source_Table and
-- Transaction_Number, so a candidate whose number occurs once in its table is alone in
-- each (first copy, one version, first delivery) and stays valid. Only the rows of
-- repeated numbers go through the windows: a narrow aggregate instead of three sorts of
-- every row ever delivered, which made the daily run grow faster than the history
-- (docs/performance.md, section 4).
repeated_numbers as (

    select Source_Table, Transaction_Number
    from with_file
    where row_reason is null and is_cancellation = 0
    group by Source_Table, Transaction_Number
    having count(*) > 1

),

repeated_rows as (

    select w.*
    from with_file as w
    inner join repeated_numbers as n
        on n.Source_Table = w.Source_Table
        and n.Transaction_Number = w.Transaction_Number
    where w.row_reason is null and w.is_cancellation = 0

),

-- duplicate_row: every identical copy after the first (by Datei_ID)
copies as (

    select
        *,
        row_number() over (
            partition by {{ copy_columns | join(', ') }}
            order by Datei_ID
        ) as copy_no
    from repeated_rows

),

-- conflicting_duplicate: a number with more than one version in one file
versions as (

    select
        *,
        count(*) over (
            partition by Source_Table, case when copy_no = 1 then 1 else 0 end, Datei_ID, Transaction_Number
        ) as n_versions
    from copies

),

-- repeated_transaction: every delivery of a number after its first (by file day)
deliveries as (

    select
        *,
        row_number() over (
            partition by Source_Table, case when copy_no = 1 and n_versions = 1 then 1 else 0 end, Transaction_Number
            order by Datei_Datum, Datei_ID
        ) as delivery_no
    from versions

),

classified as (

    select
        Source_Table,
        {{ transaction_columns() | join(',\n        ') }},
        {{ duplicate_class() }} as dq_reason,
        -- the file state the row was classified with, and the row's hash (for the depot
        -- signatures, macros/incremental/depot_signatures.sql)
        File_Status,
        Datei_Typ,
        {{ transaction_row_hash(duplicate_class()) }} as Row_Hash
    from deliveries

    union all

    -- every other row keeps its class so far (NULL: a valid candidate of a number that
    -- occurs once in its table, or a cancellation row of a counting file)
    select
        w.Source_Table,
        {{ transaction_columns(alias='w.') | join(',\n        ') }},
        w.row_reason as dq_reason,
        w.File_Status,
        w.Datei_Typ,
        {{ transaction_row_hash('w.row_reason', 'w.') }} as Row_Hash
    from with_file as w
    left join repeated_numbers as n
        on n.Source_Table = w.Source_Table
        and n.Transaction_Number = w.Transaction_Number
    where not (w.row_reason is null and w.is_cancellation = 0 and n.Transaction_Number is not null)

),

-- the numbers of a table with a valid cancellation row (the only rows whose
-- Signature_Depot can be another depot), and the depot of each one's valid original in
-- that table (one per number: later deliveries are repeated_transaction rows)
cancelled_numbers as (

    select distinct Source_Table, Transaction_Number
    from classified
    where dq_reason is null and is_cancellation = 1

),

original_depots as (

    select c.Source_Table, c.Transaction_Number, min(c.Depot_Number) as Original_Depot
    from classified as c
    inner join cancelled_numbers as n
        on n.Source_Table = c.Source_Table
        and n.Transaction_Number = c.Transaction_Number
    where c.dq_reason is null and c.is_cancellation = 0
    group by c.Source_Table, c.Transaction_Number

)

select
    c.*,
    -- the depot whose transactions the row can change (macros/incremental/
    -- depot_signatures.sql): a valid cancellation row changes its original's
    -- cancelled_from, whatever depot it names (often none); every other row its own depot
    case
        when c.dq_reason is null and c.is_cancellation = 1 and o.Original_Depot is not null
            then o.Original_Depot
        else c.Depot_Number
    end as Signature_Depot
from classified as c
left join original_depots as o
    on o.Source_Table = c.Source_Table
    and o.Transaction_Number = c.Transaction_Number
