-- Every cd_Saldo row with its final class (rules §1, §4): file classes, the row-level
-- classes of staging, then among valid rows of one file duplicate_row (identical copies
-- beyond the first) and conflicting_duplicate (same Depot_Number, different Cash_EUR).
with saldo as (

    select * from {{ ref('stg_provisionen__saldo') }}

),

files as (

    select * from {{ ref('int_files') }}

),

with_file as (

    select
        s.Datei_ID,
        f.Datei_Datum,
        s.Depot_Number,
        s.Cash_EUR,
        case
            when f.file_status is null then 'unknown_file'
            when f.file_status = 'bad_file' then 'bad_file'
            when f.Datei_Typ <> 'B' then 'wrong_file_type'
            when f.file_status = 'superseded_file' then 'superseded_file'
            else s.dq_reason
        end as row_reason
    from saldo as s
    left join files as f
        on f.Datei_ID = s.Datei_ID

),

copies as (

    select
        *,
        case when row_reason is null then 1 else 0 end as is_candidate,
        row_number() over (
            partition by case when row_reason is null then 1 else 0 end, Datei_ID, Depot_Number, Cash_EUR
            order by Datei_ID
        ) as copy_no
    from with_file

),

versions as (

    select
        *,
        count(*) over (
            partition by case when is_candidate = 1 and copy_no = 1 then 1 else 0 end, Datei_ID, Depot_Number
        ) as n_versions
    from copies

)

select
    Datei_ID,
    Datei_Datum,
    Depot_Number,
    Cash_EUR,
    case
        when is_candidate = 0 then row_reason
        when copy_no > 1 then 'duplicate_row'
        when n_versions > 1 then 'conflicting_duplicate'
    end as dq_reason
from versions
