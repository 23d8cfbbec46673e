-- The data horizon (rules §1): the latest Datei_Datum of a counting U file. One row
-- (Data_Horizon NULL when there is no U file).
with files as (

    select * from {{ ref('int_files') }}

)

select max(Datei_Datum) as Data_Horizon
from files
where is_counting = 1 and Datei_Typ = 'U'
