-- Family "order windows" of the feature deltas: counts and sums of orders in windows
-- (rules §7: Buys_7d/30d, Avg_Ticket_90d, Turnover_30d, CancelRate_30d, Pre_First_Target;
-- §7a: Buys_90d/365d, Orders_90d/365d, Sales_90d/365d, Sales_Proceeds_30d,
-- Target_SavingsPlan_365d, Target_TransferIn_365d) as +v/-v deltas per
-- (Depot_Number, Delta_Date).
--
-- A valid order counts for a window feature of n days on exactly the Score_Dates D in one
-- interval: it must be known (D >= known_from), not yet cancelled (D < cancelled_from) and
-- in the window (Order_Date <= D < Order_Date + n). Since Order_Date <= known_from (later
-- dates are future_date rows), the interval is [known_from, min(Order_Date + n,
-- cancelled_from)). So each order adds +v on the first day and -v on the first day after;
-- a running sum over a depot's deltas in date order gives the feature on every day (see
-- fa_agg_buy). Deltas are independent of the run's date range.
--
-- Kept between runs per depot (docs/dbt.md, *Incremental design*): a run recomputes the
-- depots whose signature in int_order_transactions differs from the one stored here.
{{ config(materialized='incremental', pre_hook="{{ family_pre_hook(['int_order_transactions']) }}") }}
{%- set family = 'int_deltas_order_windows' %}
{%- set f = fund() %}
{%- set incremental = is_incremental() %}
with {{ family_imports({'orders': 'int_order_transactions'}, incremental) }},

order_windows as (

    select
        Depot_Number,
        OrderType,
        Amount_EUR,
        is_effective_buy,
        is_target_purchase,
        case when OrderType = 'SavingsPlan' and ISIN in ({{ f.isin_list_sql }}) then 1 else 0 end as is_target_sp,
        case when OrderType = 'TransferIn' and ISIN in ({{ f.isin_list_sql }}) then 1 else 0 end as is_target_ti,
        case when OrderType = 'Sale' then 1 else 0 end as is_sale,
        known_from,
        cancelled_from,
        {{ add_days('Order_Date', 30) }} as window_end_30,
        {{ active_end('Order_Date', 7) }} as active_end_7,
        {{ active_end('Order_Date', 30) }} as active_end_30,
        {{ active_end('Order_Date', 90) }} as active_end_90,
        {{ active_end('Order_Date', 365) }} as active_end_365,
        case
            when cancelled_from is not null and cancelled_from > known_from then cancelled_from
            else known_from
        end as cancel_known_from
    from orders

),

deltas as (

    -- everything that starts when an order becomes known
    select {{ delta_select_list('Depot_Number', 'known_from', {
        'd_buys_7d': 'case when is_effective_buy = 1 and known_from < active_end_7 then 1 else 0 end',
        'd_buys_30d': 'case when is_effective_buy = 1 and known_from < active_end_30 then 1 else 0 end',
        'd_ticket_sum_90d': 'case when is_effective_buy = 1 and known_from < active_end_90 then Amount_EUR else 0 end',
        'd_ticket_n_90d': 'case when is_effective_buy = 1 and known_from < active_end_90 then 1 else 0 end',
        'd_turnover_30d': "case when OrderType in ('Purchase', 'Sale') and known_from < active_end_30 then Amount_EUR else 0 end",
        'd_orders_30d': 'case when known_from < window_end_30 then 1 else 0 end',
        'd_target_active': 'case when is_target_purchase = 1 and (cancelled_from is null or cancelled_from > known_from) then 1 else 0 end',
        'd_buys_365d': 'case when is_effective_buy = 1 and known_from < active_end_365 then 1 else 0 end',
        'd_orders_90d': 'case when known_from < active_end_90 then 1 else 0 end',
        'd_orders_365d': 'case when known_from < active_end_365 then 1 else 0 end',
        'd_sales_90d': 'case when is_sale = 1 and known_from < active_end_90 then 1 else 0 end',
        'd_sales_365d': 'case when is_sale = 1 and known_from < active_end_365 then 1 else 0 end',
        'd_sale_proceeds_30d': 'case when is_sale = 1 and known_from < active_end_30 then Amount_EUR else 0 end',
        'd_target_sp_365d': 'case when is_target_sp = 1 and known_from < active_end_365 then 1 else 0 end',
        'd_target_ti_365d': 'case when is_target_ti = 1 and known_from < active_end_365 then 1 else 0 end',
    }, family) }}
    from order_windows

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_7', {'d_buys_7d': '-1'}, family) }}
    from order_windows
    where is_effective_buy = 1 and known_from < active_end_7

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_30', {
        'd_buys_30d': 'case when is_effective_buy = 1 then -1 else 0 end',
        'd_turnover_30d': "case when OrderType in ('Purchase', 'Sale') then -Amount_EUR else 0 end",
        'd_sale_proceeds_30d': 'case when is_sale = 1 then -Amount_EUR else 0 end',
    }, family) }}
    from order_windows
    where known_from < active_end_30
        and (is_effective_buy = 1 or OrderType in ('Purchase', 'Sale'))

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_90', {
        'd_ticket_sum_90d': 'case when is_effective_buy = 1 then -Amount_EUR else 0 end',
        'd_ticket_n_90d': 'case when is_effective_buy = 1 then -1 else 0 end',
        'd_orders_90d': '-1',
        'd_sales_90d': 'case when is_sale = 1 then -1 else 0 end',
    }, family) }}
    from order_windows
    where known_from < active_end_90

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_365', {
        'd_buys_365d': 'case when is_effective_buy = 1 then -1 else 0 end',
        'd_orders_365d': '-1',
        'd_sales_365d': 'case when is_sale = 1 then -1 else 0 end',
        'd_target_sp_365d': 'case when is_target_sp = 1 then -1 else 0 end',
        'd_target_ti_365d': 'case when is_target_ti = 1 then -1 else 0 end',
    }, family) }}
    from order_windows
    where known_from < active_end_365

    union all

    -- CancelRate_30d denominator ends with the window (cancellation does not remove it)
    select {{ delta_select_list('Depot_Number', 'window_end_30', {'d_orders_30d': '-1'}, family) }}
    from order_windows
    where known_from < window_end_30

    union all

    -- CancelRate_30d numerator: from the day the cancellation is known, within the window
    select {{ delta_select_list('Depot_Number', 'cancel_known_from', {'d_cancelled_30d': '1'}, family) }}
    from order_windows
    where cancelled_from is not null and cancel_known_from < window_end_30

    union all

    select {{ delta_select_list('Depot_Number', 'window_end_30', {'d_cancelled_30d': '-1'}, family) }}
    from order_windows
    where cancelled_from is not null and cancel_known_from < window_end_30

    union all

    -- a target purchase stops counting against Pre_First_Target once cancelled
    select {{ delta_select_list('Depot_Number', 'cancelled_from', {'d_target_active': '-1'}, family) }}
    from order_windows
    where is_target_purchase = 1 and cancelled_from is not null and cancelled_from > known_from

)

{{ family_final(family, incremental) }}
