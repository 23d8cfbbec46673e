-- House_Buys_365d as segments (docs/rules.md §7b): per depot, the day ranges
-- [Seg_Start, Seg_End) (Seg_End NULL: open) on which the number of effective buys of the
-- fund house's ISINs (fund.house_isins) active as of D with Order_Date in [D-364, D] is
-- House_Buys > 0. A buy counts on [known_from, min(Order_Date + 365, cancelled_from)).
-- House buys are few, so the whole history is kept (one scan of int_order_transactions,
-- like int_first_buy_dates); int_holdings looks each universe row up. Empty without
-- house ISINs.
{%- set f = fund() %}
with transactions as (

    select * from {{ ref('int_order_transactions') }}

),

{% if f.house_isins -%}
house_buys as (

    select
        Depot_Number,
        known_from,
        case
            when cancelled_from is not null and cancelled_from < {{ add_days('Order_Date', 365) }}
                then cancelled_from else {{ add_days('Order_Date', 365) }}
        end as active_end
    from transactions
    where is_effective_buy = 1 and ISIN in ({{ f.house_list_sql }})

),
{%- else -%}
house_buys as (

    select Depot_Number, known_from, known_from as active_end
    from transactions
    where 1 = 0

),
{%- endif %}

deltas as (

    select Depot_Number, known_from as Delta_Date, 1 as d_buys
    from house_buys
    where active_end > known_from

    union all

    select Depot_Number, active_end as Delta_Date, -1 as d_buys
    from house_buys
    where active_end > known_from

),

daily_deltas as (

    select Depot_Number, Delta_Date, sum(d_buys) as d_buys
    from deltas
    group by Depot_Number, Delta_Date

),

running as (

    select
        Depot_Number,
        Delta_Date as Seg_Start,
        lead(Delta_Date) over (partition by Depot_Number order by Delta_Date) as Seg_End,
        sum(d_buys) over (
            partition by Depot_Number order by Delta_Date
            rows between unbounded preceding and current row
        ) as House_Buys
    from daily_deltas

)

select
    Depot_Number,
    Seg_Start,
    Seg_End,
    cast(House_Buys as {{ t_int() }}) as House_Buys
from running
where House_Buys > 0
