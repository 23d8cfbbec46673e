{{ config(materialized='incremental', pre_hook="{{ delete_changed_depots(row_signatures(sibling('int_transaction_rows'), 'cd_Buchung')) }}") }}
-- One row per valid booking (the original of its transaction; rules §3, §5) with
-- known_from and cancelled_from as in int_order_transactions.
-- Kept between runs per depot: a run recomputes the depots whose row signature changed
-- (macros/incremental/depot_signatures.sql); Sig_Rows / Sig_Hash are the signature each row was
-- computed from.
{%- set incremental = is_incremental() %}
with {{ transaction_imports('cd_Buchung', incremental) }}

select
    b.Transaction_Number,
    b.Depot_Number,
    b.Transaction_Date as Booking_Date,
    b.Booking_Type,
    b.Amount_EUR,
    b.Datei_ID,
    b.Datei_Datum as known_from,
    c.cancelled_from,
    s.Sig_Rows,
    s.Sig_Hash
from originals as b
left join cancellations as c
    on c.Transaction_Number = b.Transaction_Number
inner join row_signatures as s
    on s.Depot_Number = b.Depot_Number
