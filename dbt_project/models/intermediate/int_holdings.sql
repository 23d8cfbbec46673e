-- The universe with its holdings features per Score_Date of the run (rules §6): the
-- depots with a valid cd_Saldo row in the as-of B file (the counting B file with the
-- latest Datei_Datum <= Score_Date), with Cash, Portfolio_Value (sum of valid positions'
-- Market_Value_EUR, 0 when none) and Pos_Count (valid positions with Units > 0).
-- Also the holdings features v2 of docs/rules.md §7b: Tenure_Days, Cash_/Portfolio_Change
-- over 7 and 30 days (the as-of files of D-7 and D-30 are read too), Max_Position_Share,
-- House_Positions / House_Value / House_Buys_365d (NULL without fund.house_isins) and
-- Cooc_Score.
{%- set f = fund() %}
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

firsts as (

    select * from {{ ref('int_holding_firsts') }}

),

cooc_rates as (

    select * from {{ ref('int_cooc_rates') }}

),

house_buys as (

    select * from {{ ref('int_house_buys') }}

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

lag_files as (

    -- the as-of files of D-7 and D-30 (rules §7b)
    select
        d.Score_Date,
        l.Lag_Days,
        b.Datei_ID
    from score_dates as d
    cross join (select 7 as Lag_Days union all select 30 as Lag_Days) as l
    inner join b_files as b
        on b.valid_from <= {{ add_days('d.Score_Date', '-l.Lag_Days') }}
        and (b.next_file_date is null or b.next_file_date > {{ add_days('d.Score_Date', '-l.Lag_Days') }})

),

used_files as (

    select Datei_ID from as_of_files

    union

    select Datei_ID from lag_files

),

-- The valid rows of the used files only (macros/valid_holdings.sql).
cash as (

    {{ valid_saldo_rows('saldo', 'used_files') }}

),

valid_positions as (

    {{ valid_position_rows('bestand', 'used_files') }}

),

positions as (

    select
        Datei_ID,
        Depot_Number,
        sum(Market_Value_EUR) as Portfolio_Value,
        sum(case when Units > 0 then 1 else 0 end) as Pos_Count,
        max(Market_Value_EUR) as Max_Position_Value
        {%- if f.house_isins %},
        sum(case when Units > 0 and ISIN in ({{ f.house_list_sql }}) then 1 else 0 end) as House_Positions,
        sum(case when Units > 0 and ISIN in ({{ f.house_list_sql }}) then Market_Value_EUR else 0 end) as House_Value
        {%- endif %}
    from valid_positions
    group by Datei_ID, Depot_Number

),

file_holdings as (

    -- a depot of a file's universe with its cash and portfolio value
    select
        c.Datei_ID,
        c.Depot_Number,
        c.Cash_EUR,
        coalesce(p.Portfolio_Value, 0) as Portfolio_Value
    from cash as c
    left join positions as p
        on p.Datei_ID = c.Datei_ID
        and p.Depot_Number = c.Depot_Number

),

cooc as (

    -- the strongest co-occurrence lift among the depot's positions with Units > 0
    select a.Score_Date, p.Depot_Number, max(r.Cooc_Lift) as Cooc_Score
    from as_of_files as a
    inner join valid_positions as p
        on p.Datei_ID = a.Datei_ID
    inner join cooc_rates as r
        on r.Score_Date = a.Score_Date
        and r.ISIN = p.ISIN
    where p.Units > 0
    group by a.Score_Date, p.Depot_Number

)

select
    a.Score_Date,
    c.Depot_Number,
    a.Datei_ID as As_Of_Datei_ID,
    cast(c.Cash_EUR as {{ t_money() }}) as Cash,
    cast(coalesce(p.Portfolio_Value, 0) as {{ t_money() }}) as Portfolio_Value,
    cast(coalesce(p.Pos_Count, 0) as {{ t_int() }}) as Pos_Count,
    -- features v2 (rules §7b)
    cast({{ days_between('t.First_Date', 'a.Score_Date') }} as {{ t_int() }}) as Tenure_Days,
    cast(c.Cash_EUR - h7.Cash_EUR as {{ t_money() }}) as Cash_Change_7d,
    cast(c.Cash_EUR - h30.Cash_EUR as {{ t_money() }}) as Cash_Change_30d,
    cast(coalesce(p.Portfolio_Value, 0) - h7.Portfolio_Value as {{ t_money() }}) as Portfolio_Change_7d,
    cast(coalesce(p.Portfolio_Value, 0) - h30.Portfolio_Value as {{ t_money() }}) as Portfolio_Change_30d,
    case
        when p.Portfolio_Value > 0 then {{ safe_divide('p.Max_Position_Value', 'p.Portfolio_Value') }}
    end as Max_Position_Share,
    {%- if f.house_isins %}
    cast(coalesce(p.House_Positions, 0) as {{ t_int() }}) as House_Positions,
    cast(coalesce(p.House_Value, 0) as {{ t_money() }}) as House_Value,
    cast(coalesce(hb.House_Buys, 0) as {{ t_int() }}) as House_Buys_365d,
    {%- else %}
    cast(null as {{ t_int() }}) as House_Positions,
    cast(null as {{ t_money() }}) as House_Value,
    cast(null as {{ t_int() }}) as House_Buys_365d,
    {%- endif %}
    k.Cooc_Score
from as_of_files as a
inner join cash as c
    on c.Datei_ID = a.Datei_ID
left join positions as p
    on p.Datei_ID = c.Datei_ID
    and p.Depot_Number = c.Depot_Number
left join firsts as t
    on t.Depot_Number = c.Depot_Number
    and t.ISIN = '-'
left join lag_files as l7
    on l7.Score_Date = a.Score_Date
    and l7.Lag_Days = 7
left join file_holdings as h7
    on h7.Datei_ID = l7.Datei_ID
    and h7.Depot_Number = c.Depot_Number
left join lag_files as l30
    on l30.Score_Date = a.Score_Date
    and l30.Lag_Days = 30
left join file_holdings as h30
    on h30.Datei_ID = l30.Datei_ID
    and h30.Depot_Number = c.Depot_Number
left join house_buys as hb
    on hb.Depot_Number = c.Depot_Number
    and hb.Seg_Start <= a.Score_Date
    and (hb.Seg_End is null or hb.Seg_End > a.Score_Date)
left join cooc as k
    on k.Score_Date = a.Score_Date
    and k.Depot_Number = c.Depot_Number
