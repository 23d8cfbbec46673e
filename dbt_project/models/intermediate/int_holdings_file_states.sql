-- The current state of every file that has cd_Saldo or cd_Bestand rows (rules §1): its
-- row count per table, file status ('unknown_file' when the Datei_ID is not in cd_Datei),
-- type and day. int_holdings_file_quality re-classifies a stored file when any of these
-- changed. Counting rows per Datei_ID reads one integer column of the source only.
with saldo as (

    select * from {{ ref('stg_provisionen__saldo') }}

),

bestand as (

    select * from {{ ref('stg_provisionen__bestand') }}

),

files as (

    select * from {{ ref('int_files') }}

),

source_files as (

    select Datei_ID, 'cd_Saldo' as Source_Table, count(*) as Source_Rows
    from saldo
    where Datei_ID is not null
    group by Datei_ID

    union all

    select Datei_ID, 'cd_Bestand' as Source_Table, count(*) as Source_Rows
    from bestand
    where Datei_ID is not null
    group by Datei_ID

)

select
    s.Datei_ID,
    s.Source_Table,
    s.Source_Rows,
    coalesce(f.file_status, 'unknown_file') as File_Status,
    f.Datei_Typ,
    f.Datei_Datum
from source_files as s
left join files as f
    on f.Datei_ID = s.Datei_ID
