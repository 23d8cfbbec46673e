-- The rows of cd_Saldo grouped by file and content, with their final class (rules §1,
-- §4). Grain: one row per distinct (Datei_ID, Depot_Number, Cash_EUR) and class;
-- n_rows copies of it were delivered. dq_reason is the class of the first copy (NULL:
-- valid): a file class or row-level class of staging (then all copies have it), or
-- conflicting_duplicate (the file has another valid content for the same key:
-- Depot_Number). The n_duplicate_rows further copies of a valid content are duplicate_row.
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

row_groups as (

    -- identical rows of one file (and class) collapse into one group of n_rows copies:
    -- grouping is much cheaper than row-by-row windows on tens of millions of rows
    select
        Datei_ID, Datei_Datum, Depot_Number, Cash_EUR,
        row_reason,
        count(*) as n_rows
    from with_file
    group by Datei_ID, Datei_Datum, Depot_Number, Cash_EUR, row_reason

),

versions as (

    -- distinct valid contents per key and file: more than one is a conflict
    select
        Datei_ID,
        Depot_Number,
        count(*) as n_versions
    from row_groups
    where row_reason is null
    group by Datei_ID, Depot_Number

)

select
    g.Datei_ID,
    g.Datei_Datum,
    g.Depot_Number,
    g.Cash_EUR,
    g.n_rows,
    case
        when g.row_reason is not null then g.row_reason
        when v.n_versions > 1 then 'conflicting_duplicate'
    end as dq_reason,
    case when g.row_reason is null then g.n_rows - 1 else 0 end as n_duplicate_rows
from row_groups as g
left join versions as v
    on v.Datei_ID = g.Datei_ID
    and v.Depot_Number = g.Depot_Number
