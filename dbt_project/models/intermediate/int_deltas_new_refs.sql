-- Family "new references" of the feature deltas (rules §7 NewRefs_90d: ISINs whose first
-- effective buy active as of D has Order_Date in [D-89, D]) as deltas per
-- (Depot_Number, Delta_Date).
--
-- Per (depot, ISIN) the first active effective buy date f changes only at change points:
-- the known_from of a never-cancelled buy that lowers the running minimum, and the
-- known_from/cancelled_from of cancelled buys (other buys never change the minimum). On a
-- segment [change point, next change point) with value f the ISIN counts on
-- [segment start, min(next change point, f + 90)).
--
-- Kept between runs per depot: a run recomputes the depots whose signature in
-- int_order_transactions differs from the one stored here.
{{ config(materialized='incremental', pre_hook="{{ family_pre_hook(['int_order_transactions']) }}") }}
{%- set family = 'int_deltas_new_refs' %}
{%- set incremental = is_incremental() %}
with {{ family_imports({'orders': 'int_order_transactions'}, incremental) }},

buys as (

    select Depot_Number, ISIN, Order_Date, known_from, cancelled_from
    from orders
    where is_effective_buy = 1

),

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
    from buys
    where cancelled_from is null

),

ref_events as (

    -- never-cancelled buys that lower the running minimum, and every cancelled buy that is
    -- ever active
    select Depot_Number, ISIN, Order_Date, known_from, cast(null as date) as cancelled_from
    from uncancelled_refs
    where previous_min is null or Order_Date < previous_min

    union all

    select Depot_Number, ISIN, Order_Date, known_from, cancelled_from
    from buys
    where cancelled_from is not null and cancelled_from > known_from

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

    select {{ delta_select_list('Depot_Number', 'change_date', {'d_new_refs_90d': '1'}, family) }}
    from ref_intervals
    where change_date < counts_end

    union all

    select {{ delta_select_list('Depot_Number', 'counts_end', {'d_new_refs_90d': '-1'}, family) }}
    from ref_intervals
    where change_date < counts_end

)

{{ family_final(family, incremental) }}
