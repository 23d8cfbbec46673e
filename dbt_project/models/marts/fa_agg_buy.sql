{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        alias='CD_FA_AGG_BUY_' ~ fund().code,
        pre_hook="{{ delete_score_dates() }}",
        on_schema_change='fail',
    )
}}
-- CD_FA_AGG_BUY_<CODE>: one row per (Score_Date, Depot_Number) of the universe for every
-- Score_Date in [start_date, end_date] (rules §6, §7). The pre_hook deletes those dates
-- first, so a rerun replaces whole days (append then adds them back).
--
-- Windowed features are running sums over each depot's delta stream (int_feature_deltas):
-- the deltas dated before start_date are clamped onto start_date (their sum is the state
-- on that day), ROWS windows sum them up in date order on the (sparse) delta days, and
-- each universe row takes the state of its depot's latest delta day on or before it.
{%- set cols = feature_delta_columns() %}
with universe as (

    select * from {{ ref('int_holdings') }}

),

feature_deltas as (

    select * from {{ ref('int_feature_deltas') }}

),

universe_depots as (

    select distinct Depot_Number from universe

),

clamped_deltas as (

    select
        d.Depot_Number,
        case when d.Delta_Date < {{ start_date_sql() }} then {{ start_date_sql() }} else d.Delta_Date end as Stream_Date
        {%- for name, kind in cols %},
        d.{{ name }}
        {%- endfor %}
    from feature_deltas as d
    inner join universe_depots as u
        on u.Depot_Number = d.Depot_Number
    where d.Delta_Date <= {{ end_date_sql() }}

),

delta_stream as (

    select
        Depot_Number,
        Stream_Date
        {%- for name, kind in cols %},
        sum({{ name }}) as {{ name }}
        {%- endfor %}
    from clamped_deltas
    group by Depot_Number, Stream_Date

),

running as (

    -- the state of every feature after the deltas of Stream_Date (sparse: delta days only)
    select
        Depot_Number,
        Stream_Date
        {%- for name, kind in cols %},
        sum({{ name }}) {{ running_total() }} as {{ name | replace('d_', 'r_', 1) }}
        {%- endfor %}
    from delta_stream

),

stream_dates as (

    select Depot_Number, Stream_Date, 1 as is_delta from delta_stream

    union all

    select Depot_Number, Score_Date as Stream_Date, 0 as is_delta from universe

),

last_delta as (

    -- for every universe row, the latest delta day on or before it: one window over a
    -- narrow stream instead of one window per feature over every depot-day
    select
        Depot_Number,
        Stream_Date as Score_Date,
        is_delta,
        max(case when is_delta = 1 then Stream_Date end) over (
            partition by Depot_Number
            order by Stream_Date, is_delta desc
            rows between unbounded preceding and current row
        ) as last_delta_date
    from stream_dates

),

universe_state as (

    select
        u.Score_Date,
        u.Depot_Number,
        u.Cash,
        u.Portfolio_Value,
        u.Pos_Count
        {%- for name, kind in cols %},
        coalesce(r.{{ name | replace('d_', 'r_', 1) }}, 0) as {{ name | replace('d_', 'r_', 1) }}
        {%- endfor %}
        {%- for name in holdings_v2_columns() %},
        u.{{ name }}
        {%- endfor %}
    from universe as u
    inner join last_delta as l
        on l.Depot_Number = u.Depot_Number
        and l.Score_Date = u.Score_Date
        and l.is_delta = 0
    left join running as r
        on r.Depot_Number = l.Depot_Number
        and r.Stream_Date = l.last_delta_date

),

features as (

    select
        u.Score_Date,
        u.Depot_Number,
        cast(u.r_buys_7d as {{ t_int() }}) as Buys_7d,
        cast(u.r_buys_30d as {{ t_int() }}) as Buys_30d,
        cast(case
            when u.r_last_buy_unc >= u.r_last_buy_canc and u.r_last_buy_unc > 0
                then {{ day_number('u.Score_Date') }} - u.r_last_buy_unc
            when u.r_last_buy_canc > 0
                then {{ day_number('u.Score_Date') }} - u.r_last_buy_canc
        end as {{ t_int() }}) as Last_Buy_Days,
        case
            when u.r_ticket_n_90d > 0 then {{ safe_divide('u.r_ticket_sum_90d', 'u.r_ticket_n_90d') }}
        end as Avg_Ticket_90d,
        u.Cash,
        u.Portfolio_Value,
        case
            when u.Cash + u.Portfolio_Value > 0
                then {{ safe_divide('u.Cash', 'u.Cash + u.Portfolio_Value') }}
        end as Cash_Ratio,
        cast(u.r_deposit_30d as {{ t_money() }}) as Deposit_30d_eff,
        cast(u.r_turnover_30d as {{ t_money() }}) as Turnover_30d,
        u.Pos_Count,
        cast(u.r_new_refs_90d as {{ t_int() }}) as NewRefs_90d,
        case
            when u.r_orders_30d > 0 then {{ safe_divide('u.r_cancelled_30d', 'u.r_orders_30d') }}
        end as CancelRate_30d,
        cast(case when u.r_target_active = 0 then 1 else 0 end as {{ t_int() }}) as Pre_First_Target
        {#- features v2 of the holdings side (rules §7b), computed in int_holdings #}
        {%- for name in holdings_v2_columns() %},
        u.{{ name }}
        {%- endfor %}
    from universe_state as u

)

select * from features
