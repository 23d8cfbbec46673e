-- Every cd_Order row with its final class (rules §1, §3, §4): dq_reason NULL for valid
-- rows and for cancellation rows of counting U files; is_cancellation as in staging.
-- Classes in order: file (unknown_file, bad_file, wrong_file_type, superseded_file), the
-- row-level classes of staging, future_date, stale_date, then among the valid rows
-- duplicate_row, conflicting_duplicate, repeated_transaction.
with orders as (

    select * from {{ ref('stg_provisionen__order') }}

),

files as (

    select * from {{ ref('int_files') }}

),

with_file as (

    select
        o.*,
        f.Datei_Datum,
        case
            when f.file_status is null then 'unknown_file'
            when f.file_status = 'bad_file' then 'bad_file'
            when f.Datei_Typ <> 'U' then 'wrong_file_type'
            when f.file_status = 'superseded_file' then 'superseded_file'
            when o.dq_reason is not null then o.dq_reason
            when o.is_cancellation = 1 then null
            when o.Order_Date > f.Datei_Datum then 'future_date'
            when o.Order_Date < {{ add_days('f.Datei_Datum', -366) }} then 'stale_date'
        end as row_reason
    from orders as o
    left join files as f
        on f.Datei_ID = o.Datei_ID

),

copies as (

    -- candidates for the duplicate classes: valid so far, not a cancellation
    select
        *,
        case when row_reason is null and is_cancellation = 0 then 1 else 0 end as is_candidate,
        row_number() over (
            partition by
                case when row_reason is null and is_cancellation = 0 then 1 else 0 end,
                Datei_ID, Transaction_Number, Depot_Number, Order_Date, OrderType, ISIN,
                Units, Amount_EUR, Remark
            order by Datei_ID
        ) as copy_no
    from with_file

),

versions as (

    select
        *,
        count(*) over (
            partition by
                case when is_candidate = 1 and copy_no = 1 then 1 else 0 end,
                Datei_ID, Transaction_Number
        ) as n_versions
    from copies

),

deliveries as (

    select
        *,
        row_number() over (
            partition by
                case when is_candidate = 1 and copy_no = 1 and n_versions = 1 then 1 else 0 end,
                Transaction_Number
            order by Datei_Datum, Datei_ID
        ) as delivery_no
    from versions

)

select
    Datei_ID,
    Datei_Datum,
    Transaction_Number,
    Depot_Number,
    Order_Date,
    OrderType,
    ISIN,
    Units,
    Amount_EUR,
    Remark,
    is_cancellation,
    case
        when is_candidate = 0 then row_reason
        when copy_no > 1 then 'duplicate_row'
        when n_versions > 1 then 'conflicting_duplicate'
        when delivery_no > 1 then 'repeated_transaction'
    end as dq_reason
from deliveries
