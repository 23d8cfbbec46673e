-- The universe with its holdings features per Score_Date of the run (rules §6): the
-- depots with a valid cd_Saldo row in the as-of B file (the counting B file with the
-- latest Datei_Datum <= Score_Date), with Cash, Portfolio_Value (sum of valid positions'
-- Market_Value_EUR, 0 when none) and Pos_Count (valid positions with Units > 0).
with score_dates as (

    select * from {{ ref('int_score_dates') }}

),

files as (

    select * from {{ ref('int_files') }}

),

saldo as (

    select * from {{ ref('stg_provisionen__saldo') }}

),

bestand as (

    select * from {{ ref('stg_provisionen__bestand') }}

),

b_files as (

    -- each counting B file is the as-of file from its day until the day before the next
    select
        Datei_ID,
        Datei_Datum as valid_from,
        lead(Datei_Datum) over (order by Datei_Datum) as next_file_date
    from files
    where is_counting = 1 and Datei_Typ = 'B'

),

as_of_files as (

    select
        d.Score_Date,
        b.Datei_ID
    from score_dates as d
    inner join b_files as b
        on b.valid_from <= d.Score_Date
        and (b.next_file_date is null or b.next_file_date > d.Score_Date)

),

used_files as (

    select distinct Datei_ID from as_of_files

),

-- The rows of the used files only, classified as in int_holdings_file_quality (those are
-- counting B files, so only the row-level and duplicate classes apply). Filtering first
-- keeps a one-day run from classifying all history.
saldo_distinct as (

    -- identical copies collapse into one (duplicate_row); a depot with two different
    -- rows in one file is a conflicting_duplicate and has no valid row
    select s.Datei_ID, s.Depot_Number, s.Cash_EUR
    from saldo as s
    inner join used_files as u
        on u.Datei_ID = s.Datei_ID
    where s.dq_reason is null
    group by s.Datei_ID, s.Depot_Number, s.Cash_EUR

),

cash as (

    select Datei_ID, Depot_Number, min(Cash_EUR) as Cash_EUR
    from saldo_distinct
    group by Datei_ID, Depot_Number
    having count(*) = 1

),

bestand_distinct as (

    select b.Datei_ID, b.Depot_Number, b.ISIN, b.Units, b.Market_Value_EUR
    from bestand as b
    inner join used_files as u
        on u.Datei_ID = b.Datei_ID
    where b.dq_reason is null
    group by b.Datei_ID, b.Depot_Number, b.ISIN, b.Units, b.Market_Value_EUR

),

valid_positions as (

    select
        Datei_ID,
        Depot_Number,
        min(Units) as Units,
        min(Market_Value_EUR) as Market_Value_EUR
    from bestand_distinct
    group by Datei_ID, Depot_Number, ISIN
    having count(*) = 1

),

positions as (

    select
        Datei_ID,
        Depot_Number,
        sum(Market_Value_EUR) as Portfolio_Value,
        sum(case when Units > 0 then 1 else 0 end) as Pos_Count
    from valid_positions
    group by Datei_ID, Depot_Number

)

select
    a.Score_Date,
    c.Depot_Number,
    a.Datei_ID as As_Of_Datei_ID,
    cast(c.Cash_EUR as {{ t_money() }}) as Cash,
    cast(coalesce(p.Portfolio_Value, 0) as {{ t_money() }}) as Portfolio_Value,
    cast(coalesce(p.Pos_Count, 0) as {{ t_int() }}) as Pos_Count
from as_of_files as a
inner join cash as c
    on c.Datei_ID = a.Datei_ID
left join positions as p
    on p.Datei_ID = c.Datei_ID
    and p.Depot_Number = c.Depot_Number
