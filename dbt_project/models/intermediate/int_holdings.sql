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

    select Score_Date
    from {{ ref('int_score_dates') }}

),

files as (

    select Datei_ID, Datei_Typ, Datei_Datum, is_counting
    from {{ ref('int_files') }}

),

firsts as (

    select Depot_Number, ISIN, First_Date
    from {{ ref('int_holding_firsts') }}

),

cooc_rates as (

    select Score_Date, ISIN, Cooc_Lift
    from {{ ref('int_cooc_rates') }}

),

house_buys as (

    select Depot_Number, Seg_Start, Seg_End, House_Buys
    from {{ ref('int_house_buys') }}

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

holding_dates as (

    -- the Score_Dates of the run and the days 7 and 30 before them (rules §7b: the
    -- changes compare with the as-of files of D-7 and D-30)
    select Score_Date as Holding_Date from score_dates

    union

    select {{ add_days('Score_Date', '-7') }} as Holding_Date from score_dates

    union

    select {{ add_days('Score_Date', '-30') }} as Holding_Date from score_dates

),

as_of_files as (

    select
        d.Holding_Date,
        b.Datei_ID
    from holding_dates as d
    inner join b_files as b
        on b.valid_from <= d.Holding_Date
        and (b.next_file_date is null or b.next_file_date > d.Holding_Date)

),

used_files as (

    select distinct Datei_ID from as_of_files

),

-- The valid rows of the used files only (macros/valid_holdings.sql: reads the staging
-- models stg_provisionen__saldo / __bestand, and int_holdings_file_quality for the files
-- without duplicate keys).
cash as (

    {{ valid_saldo_rows('stg_provisionen__saldo', 'used_files') }}

),

valid_positions as (

    {{ valid_position_rows('stg_provisionen__bestand', 'used_files') }}

),

day_positions as (

    -- per day and depot, in one pass over the as-of file's valid positions: the
    -- portfolio, and the strongest co-occurrence lift among positions with Units > 0
    -- (Cooc_Score; the rates exist for the run's Score_Dates only)
    select
        a.Holding_Date,
        p.Depot_Number,
        sum(p.Market_Value_EUR) as Portfolio_Value,
        sum(case when p.Units > 0 then 1 else 0 end) as Pos_Count,
        max(p.Market_Value_EUR) as Max_Position_Value,
        {%- if f.house_isins %}
        sum(case when p.Units > 0 and p.ISIN in ({{ f.house_list_sql }}) then 1 else 0 end) as House_Positions,
        sum(case when p.Units > 0 and p.ISIN in ({{ f.house_list_sql }}) then p.Market_Value_EUR else 0 end) as House_Value,
        {%- endif %}
        max(case when p.Units > 0 then r.Cooc_Lift end) as Cooc_Score
    from as_of_files as a
    inner join valid_positions as p
        on p.Datei_ID = a.Datei_ID
    left join cooc_rates as r
        on r.Score_Date = a.Holding_Date
        and r.ISIN = p.ISIN
    group by a.Holding_Date, p.Depot_Number

),

day_holdings as (

    -- a depot of the universe of each day's as-of file, with its holdings
    select
        a.Holding_Date,
        a.Datei_ID,
        c.Depot_Number,
        c.Cash_EUR,
        coalesce(p.Portfolio_Value, 0) as Portfolio_Value,
        coalesce(p.Pos_Count, 0) as Pos_Count,
        p.Max_Position_Value,
        {%- if f.house_isins %}
        coalesce(p.House_Positions, 0) as House_Positions,
        coalesce(p.House_Value, 0) as House_Value,
        {%- endif %}
        p.Cooc_Score
    from as_of_files as a
    inner join cash as c
        on c.Datei_ID = a.Datei_ID
    left join day_positions as p
        on p.Holding_Date = a.Holding_Date
        and p.Depot_Number = c.Depot_Number

)

select
    d.Score_Date,
    h.Depot_Number,
    h.Datei_ID as As_Of_Datei_ID,
    cast(h.Cash_EUR as {{ t_money() }}) as Cash,
    cast(h.Portfolio_Value as {{ t_money() }}) as Portfolio_Value,
    cast(h.Pos_Count as {{ t_int() }}) as Pos_Count,
    -- features v2 (rules §7b)
    cast({{ days_between('t.First_Date', 'd.Score_Date') }} as {{ t_int() }}) as Tenure_Days,
    cast(h.Cash_EUR - h7.Cash_EUR as {{ t_money() }}) as Cash_Change_7d,
    cast(h.Cash_EUR - h30.Cash_EUR as {{ t_money() }}) as Cash_Change_30d,
    cast(h.Portfolio_Value - h7.Portfolio_Value as {{ t_money() }}) as Portfolio_Change_7d,
    cast(h.Portfolio_Value - h30.Portfolio_Value as {{ t_money() }}) as Portfolio_Change_30d,
    case
        when h.Portfolio_Value > 0 then {{ safe_divide('h.Max_Position_Value', 'h.Portfolio_Value') }}
    end as Max_Position_Share,
    {%- if f.house_isins %}
    cast(h.House_Positions as {{ t_int() }}) as House_Positions,
    cast(h.House_Value as {{ t_money() }}) as House_Value,
    cast(coalesce(hb.House_Buys, 0) as {{ t_int() }}) as House_Buys_365d,
    {%- else %}
    cast(null as {{ t_int() }}) as House_Positions,
    cast(null as {{ t_money() }}) as House_Value,
    cast(null as {{ t_int() }}) as House_Buys_365d,
    {%- endif %}
    h.Cooc_Score
from score_dates as d
inner join day_holdings as h
    on h.Holding_Date = d.Score_Date
left join firsts as t
    on t.Depot_Number = h.Depot_Number
    and t.ISIN = '-'
left join day_holdings as h7
    on h7.Holding_Date = {{ add_days('d.Score_Date', '-7') }}
    and h7.Depot_Number = h.Depot_Number
left join day_holdings as h30
    on h30.Holding_Date = {{ add_days('d.Score_Date', '-30') }}
    and h30.Depot_Number = h.Depot_Number
left join house_buys as hb
    on hb.Depot_Number = h.Depot_Number
    and hb.Seg_Start <= d.Score_Date
    and (hb.Seg_End is null or hb.Seg_End > d.Score_Date)
