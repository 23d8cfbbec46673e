-- One row per valid order (the original of its transaction; rules §3, §5) with its
-- knowledge time: known_from = its file's Datei_Datum, cancelled_from = the earliest
-- Datei_Datum of a counting U file holding a cancellation row with the same
-- Transaction_Number (NULL: never cancelled). Also the fund's rule flags (0/1).
{%- set f = fund() %}
-- Two import CTEs, each read once: DuckDB materialises a CTE that is read twice (here:
-- every row of the history) instead of filtering while it scans.
with originals as (

    select *
    from {{ ref('int_order_rows') }}
    where dq_reason is null and is_cancellation = 0

),

cancellation_rows as (

    select Transaction_Number, Datei_Datum
    from {{ ref('int_order_rows') }}
    where dq_reason is null and is_cancellation = 1

),

cancellations as (

    select
        Transaction_Number,
        min(Datei_Datum) as cancelled_from
    from cancellation_rows
    group by Transaction_Number

)

select
    o.Transaction_Number,
    o.Depot_Number,
    o.Order_Date,
    o.OrderType,
    o.ISIN,
    o.Units,
    o.Amount_EUR,
    o.Datei_ID,
    o.Datei_Datum as known_from,
    c.cancelled_from,
    case
        when o.OrderType = 'Purchase' and o.Amount_EUR >= {{ f.min_ticket_sql }} then 1 else 0
    end as is_effective_buy,
    case
        when o.OrderType = 'Purchase' and o.Amount_EUR >= {{ f.min_ticket_sql }}
            and o.ISIN in ({{ f.isin_list_sql }}) then 1 else 0
    end as is_target_purchase
from originals as o
left join cancellations as c
    on c.Transaction_Number = o.Transaction_Number
