-- The data horizon (rules §1): the latest Datei_Datum of a counting U file. One row
-- (Data_Horizon NULL when there is no U file). The same rule as ml/pipeline.py's
-- data_horizon and the macro data_horizon_literal (tests/dbt/test_rules.py: they agree).
with files as (

    select * from {{ ref('int_files') }}

)

select max(Datei_Datum) as Data_Horizon
from files
where is_counting = 1 and Datei_Typ = 'U'
