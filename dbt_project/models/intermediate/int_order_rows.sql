{{ config(materialized='incremental', pre_hook="{{ delete_changed_transaction_rows('stg_provisionen__order', 'cd_Order') }}") }}
-- Every cd_Order row with its final class (rules §1, §3, §4): dq_reason NULL for valid
-- rows and for cancellation rows of counting U files; is_cancellation as in staging.
-- Classes in order: file (unknown_file, bad_file, wrong_file_type, superseded_file), the
-- row-level classes of staging, future_date, stale_date, then among the valid rows
-- duplicate_row, conflicting_duplicate, repeated_transaction. int_booking_rows applies
-- the same rules to cd_Buchung (macros/transaction_classes.sql holds the shared CASEs).
--
-- Kept between runs per transaction number (docs/dbt.md, *Incremental design*): a row's
-- class depends on its own file and on the other rows of its Transaction_Number, nothing
-- else. The pre_hook (macros/incremental/changed_files.sql) deletes every stored row of
-- each number that occurs in a file whose state changed (new, corrected, superseded,
-- late cd_Datei row, rows added or gone); this model then classifies again exactly the
-- numbers that have no stored row left, all their rows together.
{%- set value_columns = transaction_value_columns('cd_Order') %}
{%- set copy_columns = ['Datei_ID', 'Transaction_Number', 'Depot_Number'] + value_columns %}
with staged as (

    select * from {{ ref('stg_provisionen__order') }}

),

file_states as (

    select * from {{ ref('int_file_states') }}
    where Source_Table = 'cd_Order'

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

    -- the file's state as int_file_states has it now (what the pre_hook compares the
    -- stored rows with); no state: a row without a Datei_ID (unknown_file)
    select
        r.*,
        f.Datei_Datum,
        coalesce(f.File_Status, 'unknown_file') as File_Status,
        f.Datei_Typ,
        {{ transaction_row_class('Order_Date') }} as row_reason
    from source_rows as r
    left join file_states as f
        on f.File_Key = r.Datei_ID

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
            partition by case when copy_no = 1 then 1 else 0 end, Datei_ID, Transaction_Number
        ) as n_versions
    from copies

),

-- repeated_transaction: every delivery of a number after its first (by file day)
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
        {{ transaction_hashed_columns('cd_Order') | join(',\n        ') }},
        {{ duplicate_class() }} as dq_reason,
        -- the file state the row was classified with, and the row's hash (for the depot
        -- signatures, macros/incremental/depot_signatures.sql)
        File_Status,
        Datei_Typ,
        {{ row_hash(transaction_hashed_columns('cd_Order') + [duplicate_class()]) }} as Row_Hash
    from deliveries

    union all

    -- every other row keeps its class so far (NULL: a valid candidate of a number that
    -- occurs once, or a cancellation row of a counting file)
    select
        {{ transaction_hashed_columns('cd_Order', 'w.') | join(',\n        ') }},
        w.row_reason as dq_reason,
        w.File_Status,
        w.Datei_Typ,
        {{ row_hash(transaction_hashed_columns('cd_Order', 'w.') + ['w.row_reason']) }} as Row_Hash
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
    on o.Transaction_Number = c.Transaction_Number
