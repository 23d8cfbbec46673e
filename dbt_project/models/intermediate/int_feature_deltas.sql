-- The windowed features of rules §7 as +v/-v deltas per (Depot_Number, Delta_Date).
--
-- A valid order or booking counts for a window feature of n days on exactly the Score_Dates
-- D in one interval: it must be known (D >= known_from), not yet cancelled
-- (D < cancelled_from) and in the window (Order_Date <= D < Order_Date + n). Since
-- Order_Date <= known_from (later dates are future_date rows), the interval is
-- [known_from, min(Order_Date + n, cancelled_from)). So each transaction adds +v on the
-- first day and -v on the first day after; a running sum over a depot's deltas in date
-- order gives the feature on every day (see fa_agg_buy). Deltas are independent of the
-- run's date range; fa_agg_buy clamps the ones before start_date onto it.
--
-- Maxima and minima over a set that cancellations can shrink are carried the same way:
--   * last buy (max Order_Date of active effective buys) = the larger of two parts:
--     never-cancelled buys only grow the maximum, so each adds (its day number - the
--     running maximum before it) when it raises it; cancelled buys are few and handled
--     by change-point segments (between consecutive known_from/cancelled_from days the
--     active set is constant; each segment start adds the change of the maximum).
--   * NewRefs_90d: per (depot, ISIN) the first active effective buy date f changes only
--     at change points (the known_from of a never-cancelled buy that lowers the running
--     minimum, known_from/cancelled_from of cancelled buys); on a segment with value f
--     the ISIN counts on [segment start, min(next change point, f + 90)).
--
-- Kept between runs per depot: a run recomputes the depots whose transaction signature
-- changed (macros/depot_signatures.sql); Sig_Rows / Sig_Hash are the signature each delta
-- row was computed from.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_changed_depots(transaction_signatures(sibling('int_order_transactions'), sibling('int_booking_transactions'))) }}",
        on_schema_change='append_new_columns',
    )
}}
{%- set cols = feature_delta_columns() %}
{%- set incremental = is_incremental() and stored_with_columns(this, ['Sig_Rows', 'Sig_Hash']) %}
with transaction_signatures as (

    {{ transaction_signatures(ref('int_order_transactions'), ref('int_booking_transactions')) }}

),

{% if incremental -%}
changed as (

    {{ changed_depots('transaction_signatures', this) }}

),

orders as (

    select * from {{ ref('int_order_transactions') }}
    where Depot_Number in (select Depot_Number from changed)

),

bookings as (

    select * from {{ ref('int_booking_transactions') }}
    where Depot_Number in (select Depot_Number from changed)

),
{%- else -%}
orders as (

    select * from {{ ref('int_order_transactions') }}

),

bookings as (

    select * from {{ ref('int_booking_transactions') }}

),
{%- endif %}

order_windows as (

    select
        Depot_Number,
        ISIN,
        Order_Date,
        OrderType,
        Amount_EUR,
        is_effective_buy,
        is_target_purchase,
        known_from,
        cancelled_from,
        {{ day_number('Order_Date') }} as order_day_no,
        {{ add_days('Order_Date', 30) }} as window_end_30,
        case
            when cancelled_from is not null and cancelled_from < {{ add_days('Order_Date', 7) }}
                then cancelled_from else {{ add_days('Order_Date', 7) }}
        end as active_end_7,
        case
            when cancelled_from is not null and cancelled_from < {{ add_days('Order_Date', 30) }}
                then cancelled_from else {{ add_days('Order_Date', 30) }}
        end as active_end_30,
        case
            when cancelled_from is not null and cancelled_from < {{ add_days('Order_Date', 90) }}
                then cancelled_from else {{ add_days('Order_Date', 90) }}
        end as active_end_90,
        case
            when cancelled_from is not null and cancelled_from > known_from then cancelled_from
            else known_from
        end as cancel_known_from
    from orders

),

booking_windows as (

    select
        Depot_Number,
        Amount_EUR,
        known_from,
        case
            when cancelled_from is not null and cancelled_from < {{ add_days('Booking_Date', 30) }}
                then cancelled_from else {{ add_days('Booking_Date', 30) }}
        end as active_end_30
    from bookings
    where Booking_Type = 'Deposit'

),

-- last buy, never-cancelled part: the increase of the running maximum
uncancelled_buys as (

    select
        Depot_Number,
        known_from,
        order_day_no,
        max(order_day_no) over (
            partition by Depot_Number
            order by known_from, order_day_no
            rows between unbounded preceding and 1 preceding
        ) as previous_max
    from order_windows
    where is_effective_buy = 1 and cancelled_from is null

),

-- last buy, cancelled part: change-point segments over buys active on [known_from, cancelled_from)
cancelled_buys as (

    select Depot_Number, known_from, cancelled_from, order_day_no
    from order_windows
    where is_effective_buy = 1 and cancelled_from is not null and cancelled_from > known_from

),

cancelled_change_points as (

    select Depot_Number, known_from as change_date from cancelled_buys
    union
    select Depot_Number, cancelled_from as change_date from cancelled_buys

),

cancelled_max as (

    select
        p.Depot_Number,
        p.change_date,
        coalesce(max(case
            when b.known_from <= p.change_date and b.cancelled_from > p.change_date then b.order_day_no
        end), 0) as max_day_no
    from cancelled_change_points as p
    inner join cancelled_buys as b
        on b.Depot_Number = p.Depot_Number
    group by p.Depot_Number, p.change_date

),

cancelled_max_deltas as (

    select
        Depot_Number,
        change_date,
        max_day_no - coalesce(lag(max_day_no) over (
            partition by Depot_Number order by change_date
        ), 0) as delta
    from cancelled_max

),

-- NewRefs_90d: first active effective buy date per (depot, ISIN)
uncancelled_refs as (

    select
        Depot_Number,
        ISIN,
        Order_Date,
        known_from,
        min(Order_Date) over (
            partition by Depot_Number, ISIN
            order by known_from, Order_Date
            rows between unbounded preceding and 1 preceding
        ) as previous_min
    from order_windows
    where is_effective_buy = 1 and cancelled_from is null

),

ref_events as (

    -- never-cancelled buys that lower the running minimum, and every cancelled buy that is
    -- ever active; other buys never change the minimum
    select Depot_Number, ISIN, Order_Date, known_from, cast(null as date) as cancelled_from
    from uncancelled_refs
    where previous_min is null or Order_Date < previous_min

    union all

    select Depot_Number, ISIN, Order_Date, known_from, cancelled_from
    from order_windows
    where is_effective_buy = 1 and cancelled_from is not null and cancelled_from > known_from

),

ref_change_points as (

    select Depot_Number, ISIN, known_from as change_date from ref_events
    union
    select Depot_Number, ISIN, cancelled_from as change_date from ref_events
    where cancelled_from is not null

),

ref_first_dates as (

    select
        p.Depot_Number,
        p.ISIN,
        p.change_date,
        min(case
            when e.known_from <= p.change_date
                and (e.cancelled_from is null or e.cancelled_from > p.change_date)
                then e.Order_Date
        end) as first_date
    from ref_change_points as p
    inner join ref_events as e
        on e.Depot_Number = p.Depot_Number
        and e.ISIN = p.ISIN
    group by p.Depot_Number, p.ISIN, p.change_date

),

ref_segments as (

    -- the segment [change_date, next_change) has first_date (NULL: no active buy)
    select
        Depot_Number,
        change_date,
        first_date,
        {{ add_days('first_date', 90) }} as counts_until,
        lead(change_date) over (partition by Depot_Number, ISIN order by change_date) as next_change
    from ref_first_dates

),

ref_intervals as (

    select
        Depot_Number,
        change_date,
        case
            when next_change is not null and next_change < counts_until then next_change
            else counts_until
        end as counts_end
    from ref_segments
    where first_date is not null

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
    }) }}
    from order_windows

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_7', {'d_buys_7d': '-1'}) }}
    from order_windows
    where is_effective_buy = 1 and known_from < active_end_7

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_30', {
        'd_buys_30d': 'case when is_effective_buy = 1 then -1 else 0 end',
        'd_turnover_30d': "case when OrderType in ('Purchase', 'Sale') then -Amount_EUR else 0 end",
    }) }}
    from order_windows
    where known_from < active_end_30
        and (is_effective_buy = 1 or OrderType in ('Purchase', 'Sale'))

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_90', {
        'd_ticket_sum_90d': '-Amount_EUR', 'd_ticket_n_90d': '-1'}) }}
    from order_windows
    where is_effective_buy = 1 and known_from < active_end_90

    union all

    -- CancelRate_30d denominator ends with the window (cancellation does not remove it)
    select {{ delta_select_list('Depot_Number', 'window_end_30', {'d_orders_30d': '-1'}) }}
    from order_windows
    where known_from < window_end_30

    union all

    -- CancelRate_30d numerator: from the day the cancellation is known, within the window
    select {{ delta_select_list('Depot_Number', 'cancel_known_from', {'d_cancelled_30d': '1'}) }}
    from order_windows
    where cancelled_from is not null and cancel_known_from < window_end_30

    union all

    select {{ delta_select_list('Depot_Number', 'window_end_30', {'d_cancelled_30d': '-1'}) }}
    from order_windows
    where cancelled_from is not null and cancel_known_from < window_end_30

    union all

    -- a target purchase stops counting against Pre_First_Target once cancelled
    select {{ delta_select_list('Depot_Number', 'cancelled_from', {'d_target_active': '-1'}) }}
    from order_windows
    where is_target_purchase = 1 and cancelled_from is not null and cancelled_from > known_from

    union all

    select {{ delta_select_list('Depot_Number', 'known_from', {'d_deposit_30d': 'Amount_EUR'}) }}
    from booking_windows
    where known_from < active_end_30

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_30', {'d_deposit_30d': '-Amount_EUR'}) }}
    from booking_windows
    where known_from < active_end_30

    union all

    select {{ delta_select_list('Depot_Number', 'known_from', {
        'd_last_buy_unc': 'case when previous_max is null then order_day_no when order_day_no > previous_max then order_day_no - previous_max else 0 end'}) }}
    from uncancelled_buys

    union all

    select {{ delta_select_list('Depot_Number', 'change_date', {'d_last_buy_canc': 'delta'}) }}
    from cancelled_max_deltas
    where delta <> 0

    union all

    select {{ delta_select_list('Depot_Number', 'change_date', {'d_new_refs_90d': '1'}) }}
    from ref_intervals
    where change_date < counts_end

    union all

    select {{ delta_select_list('Depot_Number', 'counts_end', {'d_new_refs_90d': '-1'}) }}
    from ref_intervals
    where change_date < counts_end

)

select
    d.*,
    s.Sig_Rows,
    s.Sig_Hash
from deltas as d
inner join transaction_signatures as s
    on s.Depot_Number = d.Depot_Number
