-- One row per valid booking (the original of its transaction; rules §3, §5) with
-- known_from and cancelled_from as in int_order_transactions.
with booking_rows as (

    select * from {{ ref('int_booking_rows') }}

),

originals as (

    select *
    from booking_rows
    where dq_reason is null and is_cancellation = 0

),

cancellations as (

    select
        Transaction_Number,
        min(Datei_Datum) as cancelled_from
    from booking_rows
    where dq_reason is null and is_cancellation = 1
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
