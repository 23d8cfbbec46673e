-- Every cd_Buchung row with its final class (rules §1, §3, §4): dq_reason NULL for valid
-- rows and for cancellation rows of counting U files; is_cancellation as in staging.
-- The classification is shared with int_order_rows (macros/transaction_rows.sql).
{{ transaction_rows(
    'stg_provisionen__buchung',
    'Booking_Date',
    ['Booking_Date', 'Booking_Type', 'Amount_EUR', 'Remark']
) }}
