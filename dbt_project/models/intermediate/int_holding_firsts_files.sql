-- depends_on: {{ ref('int_holding_firsts') }}
-- The registry of int_holding_firsts (macros/holding_firsts.sql): the state of every file
-- with cd_Saldo / cd_Bestand rows when int_holding_firsts last ran. Built after it, so it
-- only ever names files that model has read; read by its next run via sibling().
with file_states as (

    select * from {{ ref('int_file_states') }}

)

select
    File_Key as Datei_ID,
    Source_Table,
    Source_Rows,
    File_Status,
    Datei_Typ,
    Datei_Datum
from file_states
where Source_Table in ('cd_Saldo', 'cd_Bestand') and File_Key <> -1
