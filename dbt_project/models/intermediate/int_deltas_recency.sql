-- Family "recency" of the feature deltas: the latest day of an active event as of D, for
-- three kinds of event (rules §7 Last_Buy_Days: effective buys by Order_Date; §7a
-- Days_Since_Deposit: Deposit bookings by Booking_Date; Days_Since_Target_SavingsPlan:
-- SavingsPlan orders of the target ISINs by Order_Date), as deltas per
-- (Depot_Number, Delta_Date) of day numbers (days since 1970-01-01).
--
-- A maximum over a set that cancellations can shrink is carried as the larger of two parts:
--   * never-cancelled events only grow the maximum, so each adds (its day number - the
--     running maximum before it) on its known_from when it raises it (d_last_*_unc);
--   * cancelled events are few and handled by change-point segments: between consecutive
--     known_from/cancelled_from days the set of active cancelled events is constant; each
--     segment start adds the change of their maximum (d_last_*_canc, 0 = none).
-- fa_agg_buy takes D - the larger running sum (NULL when both are 0).
--
-- Kept between runs per depot: a run recomputes the depots whose signature over
-- int_order_transactions and int_booking_transactions differs from the one stored here.
{{ config(materialized='incremental', pre_hook="{{ family_pre_hook(['int_order_transactions', 'int_booking_transactions']) }}") }}
{%- set family = 'int_deltas_recency' %}
{%- set f = fund() %}
{%- set incremental = is_incremental() %}
with {{ family_imports({'orders': 'int_order_transactions', 'bookings': 'int_booking_transactions'}, incremental) }},

events as (

    select
        Depot_Number,
        case when is_effective_buy = 1 then 'buy' else 'target_sp' end as kind,
        {{ day_number('Order_Date') }} as day_no,
        known_from,
        cancelled_from
    from orders
    where is_effective_buy = 1
        or (OrderType = 'SavingsPlan' and ISIN in ({{ f.isin_list_sql }}))

    union all

    select
        Depot_Number,
        'deposit' as kind,
        {{ day_number('Booking_Date') }} as day_no,
        known_from,
        cancelled_from
    from bookings
    where Booking_Type = 'Deposit'

),

-- never-cancelled part: the increase of the running maximum
uncancelled as (

    select
        Depot_Number,
        kind,
        known_from,
        day_no,
        max(day_no) over (
            partition by Depot_Number, kind
            order by known_from, day_no
            rows between unbounded preceding and 1 preceding
        ) as previous_max
    from events
    where cancelled_from is null

),

-- cancelled part: change-point segments over events active on [known_from, cancelled_from)
cancelled as (

    select Depot_Number, kind, known_from, cancelled_from, day_no
    from events
    where cancelled_from is not null and cancelled_from > known_from

),

change_points as (

    select Depot_Number, kind, known_from as change_date from cancelled
    union
    select Depot_Number, kind, cancelled_from as change_date from cancelled

),

cancelled_max as (

    select
        p.Depot_Number,
        p.kind,
        p.change_date,
        coalesce(max(case
            when c.known_from <= p.change_date and c.cancelled_from > p.change_date then c.day_no
        end), 0) as max_day_no
    from change_points as p
    inner join cancelled as c
        on c.Depot_Number = p.Depot_Number
        and c.kind = p.kind
    group by p.Depot_Number, p.kind, p.change_date

),

cancelled_max_deltas as (

    select
        Depot_Number,
        kind,
        change_date,
        max_day_no - coalesce(lag(max_day_no) over (
            partition by Depot_Number, kind order by change_date
        ), 0) as delta
    from cancelled_max

),

deltas as (

    select {{ delta_select_list('Depot_Number', 'known_from', {
        'd_last_buy_unc': "case when kind = 'buy' then increase else 0 end",
        'd_last_deposit_unc': "case when kind = 'deposit' then increase else 0 end",
        'd_last_target_sp_unc': "case when kind = 'target_sp' then increase else 0 end",
    }, family) }}
    from (
        select
            Depot_Number,
            kind,
            known_from,
            case
                when previous_max is null then day_no
                when day_no > previous_max then day_no - previous_max
                else 0
            end as increase
        from uncancelled
    ) as increases
    where increase <> 0

    union all

    select {{ delta_select_list('Depot_Number', 'change_date', {
        'd_last_buy_canc': "case when kind = 'buy' then delta else 0 end",
        'd_last_deposit_canc': "case when kind = 'deposit' then delta else 0 end",
        'd_last_target_sp_canc': "case when kind = 'target_sp' then delta else 0 end",
    }, family) }}
    from cancelled_max_deltas
    where delta <> 0

)

{{ family_final(family, incremental) }}
