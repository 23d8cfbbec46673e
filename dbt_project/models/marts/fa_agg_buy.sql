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
-- on that day), the universe rows add zero-delta rows so every Score_Date is in the
-- stream, and one ROWS window per column sums them up in date order.
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

stream_rows as (

    select * from clamped_deltas

    union all

    select
        Depot_Number,
        Score_Date as Stream_Date
        {%- for name, kind in cols %},
        0 as {{ name }}
        {%- endfor %}
    from universe

),

stream as (

    select
        Depot_Number,
        Stream_Date
        {%- for name, kind in cols %},
        sum({{ name }}) as {{ name }}
        {%- endfor %}
    from stream_rows
    group by Depot_Number, Stream_Date

),

running as (

    select
        Depot_Number,
        Stream_Date
        {%- for name, kind in cols %},
        sum({{ name }}) {{ running_total() }} as {{ name | replace('d_', 'r_', 1) }}
        {%- endfor %}
    from stream

),

features as (

    select
        u.Score_Date,
        u.Depot_Number,
        cast(r.r_buys_7d as {{ t_int() }}) as Buys_7d,
        cast(r.r_buys_30d as {{ t_int() }}) as Buys_30d,
        cast(case
            when r.r_last_buy_unc >= r.r_last_buy_canc and r.r_last_buy_unc > 0
                then {{ day_number('u.Score_Date') }} - r.r_last_buy_unc
            when r.r_last_buy_canc > 0
                then {{ day_number('u.Score_Date') }} - r.r_last_buy_canc
        end as {{ t_int() }}) as Last_Buy_Days,
        case
            when r.r_ticket_n_90d > 0 then {{ safe_divide('r.r_ticket_sum_90d', 'r.r_ticket_n_90d') }}
        end as Avg_Ticket_90d,
        u.Cash,
        u.Portfolio_Value,
        case
            when u.Cash + u.Portfolio_Value > 0
                then {{ safe_divide('u.Cash', 'u.Cash + u.Portfolio_Value') }}
        end as Cash_Ratio,
        cast(r.r_deposit_30d as {{ t_money() }}) as Deposit_30d_eff,
        cast(r.r_turnover_30d as {{ t_money() }}) as Turnover_30d,
        u.Pos_Count,
        cast(r.r_new_refs_90d as {{ t_int() }}) as NewRefs_90d,
        case
            when r.r_orders_30d > 0 then {{ safe_divide('r.r_cancelled_30d', 'r.r_orders_30d') }}
        end as CancelRate_30d,
        cast(case when r.r_target_active = 0 then 1 else 0 end as {{ t_int() }}) as Pre_First_Target
    from universe as u
    inner join running as r
        on r.Depot_Number = u.Depot_Number
        and r.Stream_Date = u.Score_Date

)

select * from features
