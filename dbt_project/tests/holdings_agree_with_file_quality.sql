-- The B-file rules (rules §1, §4: identical copies collapse into one, a key with two
-- different contents in one file has no valid row) are applied in two models, each
-- filtered to the files it needs for speed (docs/dbt.md, *Lineage*): int_holdings for the
-- as-of files of the run, int_holdings_file_quality per file, kept between runs. They
-- must agree: the universe of a Score_Date (the depots with a valid cd_Saldo row in its
-- as-of file) has exactly as many depots as that file's valid cd_Saldo rows.
-- Rows returned are failures.
with holdings as (

    select * from {{ ref('int_holdings') }}

),

file_quality as (

    select * from {{ ref('int_holdings_file_quality') }}
    where Source_Table = 'cd_Saldo' and Reason is null

),

universe as (

    select Score_Date, As_Of_Datei_ID, count(*) as Depots
    from holdings
    group by Score_Date, As_Of_Datei_ID

)

select u.Score_Date, u.As_Of_Datei_ID, u.Depots, q.Row_Count
from universe as u
left join file_quality as q
    on q.Datei_ID = u.As_Of_Datei_ID
where q.Row_Count is null or q.Row_Count <> u.Depots
