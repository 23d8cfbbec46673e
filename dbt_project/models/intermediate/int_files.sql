-- Every cd_Datei row with its status (rules §1): 'counting' for the latest delivery of its
-- (Datei_Typ, Datei_Datum) (highest Import_Zeit, ties: highest Datei_ID), else
-- 'superseded_file'; 'bad_file' for rows that can never count.
with files as (

    select * from {{ ref('stg_provisionen__datei') }}

),

good_files as (

    select
        Datei_ID,
        Datei_Typ,
        Datei_Datum,
        Import_Zeit,
        row_number() over (
            partition by Datei_Typ, Datei_Datum
            order by case when Import_Zeit is null then 0 else 1 end desc, Import_Zeit desc, Datei_ID desc
        ) as delivery_rank
    from files
    where dq_reason is null

),

ranked as (

    select
        Datei_ID,
        Datei_Typ,
        Datei_Datum,
        Import_Zeit,
        case when delivery_rank = 1 then 'counting' else 'superseded_file' end as file_status
    from good_files

    union all

    select
        Datei_ID,
        Datei_Typ,
        Datei_Datum,
        Import_Zeit,
        'bad_file' as file_status
    from files
    where dq_reason is not null

)

select
    Datei_ID,
    Datei_Typ,
    Datei_Datum,
    Import_Zeit,
    file_status,
    case when file_status = 'counting' then 1 else 0 end as is_counting
from ranked
