-- Every cd_Bestand row with its final class (rules §1, §4): file classes, the row-level
-- classes of staging, then among valid rows of one file duplicate_row and
-- conflicting_duplicate (same Depot_Number and ISIN, different Units or Market_Value_EUR).
with bestand as (

    select * from {{ ref('stg_provisionen__bestand') }}

),

files as (

    select * from {{ ref('int_files') }}

),

with_file as (

    select
        b.Datei_ID,
        f.Datei_Datum,
        b.Depot_Number,
        b.ISIN,
        b.Units,
        b.Market_Value_EUR,
        case
            when f.file_status is null then 'unknown_file'
            when f.file_status = 'bad_file' then 'bad_file'
            when f.Datei_Typ <> 'B' then 'wrong_file_type'
            when f.file_status = 'superseded_file' then 'superseded_file'
            else b.dq_reason
        end as row_reason
    from bestand as b
    left join files as f
        on f.Datei_ID = b.Datei_ID

),

copies as (

    select
        *,
        case when row_reason is null then 1 else 0 end as is_candidate,
        row_number() over (
            partition by case when row_reason is null then 1 else 0 end,
                Datei_ID, Depot_Number, ISIN, Units, Market_Value_EUR
            order by Datei_ID
        ) as copy_no
    from with_file

),

versions as (

    select
        *,
        count(*) over (
            partition by case when is_candidate = 1 and copy_no = 1 then 1 else 0 end,
                Datei_ID, Depot_Number, ISIN
        ) as n_versions
    from copies

)

select
    Datei_ID,
    Datei_Datum,
    Depot_Number,
    ISIN,
    Units,
    Market_Value_EUR,
    case
        when is_candidate = 0 then row_reason
        when copy_no > 1 then 'duplicate_row'
        when n_versions > 1 then 'conflicting_duplicate'
    end as dq_reason
from versions
