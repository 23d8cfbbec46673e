-- Family "distinct ISINs bought" of the feature deltas (rules §7a
-- Distinct_Isins_Bought_90d / _365d: ISINs with at least one effective buy active as of D
-- with Order_Date in [D-n+1, D]) as deltas per (Depot_Number, Delta_Date).
--
-- Each effective buy is counted on [known_from, min(Order_Date + n, cancelled_from)) (as in
-- int_deltas_order_windows); an ISIN counts on the union of its buys' intervals. Per
-- (depot, ISIN, n) the intervals, ordered by start, are merged into islands (an interval
-- that starts after the end of every earlier one opens a new island; [a, b) and [b, c)
-- merge); each island adds +1 on its start and -1 on its end.
--
-- Kept between runs per depot: a run recomputes the depots whose signature in
-- int_order_transactions differs from the one stored here.
{{ config(materialized='incremental', pre_hook="{{ family_pre_hook(['int_order_transactions']) }}") }}
{%- set family = 'int_deltas_distinct_isins' %}
{%- set incremental = is_incremental() %}
{#- an interval's columns, and the order of a (depot, ISIN, window)'s intervals #}
{%- set interval_columns = 'Depot_Number, ISIN, window_days, interval_start, interval_end' %}
{%- set per_isin = 'partition by Depot_Number, ISIN, window_days order by interval_start, interval_end' %}
with {{ family_imports({'orders': 'int_order_transactions'}, incremental) }},

intervals as (

    {%- for n in [90, 365] %}
    select
        Depot_Number,
        ISIN,
        {{ n }} as window_days,
        known_from as interval_start,
        {{ active_end('Order_Date', n) }} as interval_end
    from orders
    where is_effective_buy = 1
        and known_from < {{ active_end('Order_Date', n) }}
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}

),

island_starts as (

    select
        {{ interval_columns }},
        case
            when max(interval_end) over (
                {{ per_isin }}
                rows between unbounded preceding and 1 preceding
            ) >= interval_start then 0
            else 1
        end as opens_island
    from intervals

),

island_numbers as (

    select
        {{ interval_columns }},
        sum(opens_island) over (
            {{ per_isin }}
            rows between unbounded preceding and current row
        ) as island
    from island_starts

),

islands as (

    select
        Depot_Number,
        window_days,
        min(interval_start) as island_start,
        max(interval_end) as island_end
    from island_numbers
    group by Depot_Number, ISIN, window_days, island

),

deltas as (

    select {{ delta_select_list('Depot_Number', 'island_start', {
        'd_isins_bought_90d': 'case when window_days = 90 then 1 else 0 end',
        'd_isins_bought_365d': 'case when window_days = 365 then 1 else 0 end',
    }, family) }}
    from islands

    union all

    select {{ delta_select_list('Depot_Number', 'island_end', {
        'd_isins_bought_90d': 'case when window_days = 90 then -1 else 0 end',
        'd_isins_bought_365d': 'case when window_days = 365 then -1 else 0 end',
    }, family) }}
    from islands

)

{{ family_final(family, incremental) }}
