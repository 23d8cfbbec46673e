-- One row per valid booking (the original of its transaction; rules §3, §5) with
-- known_from and cancelled_from as in int_order_transactions.
-- Two import CTEs, each read once: DuckDB materialises a CTE that is read twice (here:
-- every row of the history) instead of filtering while it scans.
with originals as (

    select *
    from {{ ref('int_booking_rows') }}
    where dq_reason is null and is_cancellation = 0

),

cancellation_rows as (

    select Transaction_Number, Datei_Datum
    from {{ ref('int_booking_rows') }}
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
    b.Transaction_Number,
    b.Depot_Number,
    b.Booking_Date,
    b.Booking_Type,
    b.Amount_EUR,
    b.Datei_ID,
    b.Datei_Datum as known_from,
    c.cancelled_from
from originals as b
left join cancellations as c
    on c.Transaction_Number = b.Transaction_Number
