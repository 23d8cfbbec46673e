-- Every cd_Buchung row with its final class (rules §1, §3, §4): dq_reason NULL for valid
-- rows and for cancellation rows of counting U files; is_cancellation as in staging.
-- Incremental: only the transaction numbers of new or changed files are classified again
-- (macros/transaction_rows.sql). The classification is shared with int_order_rows (macros/transaction_rows.sql).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_changed_transaction_rows('stg_provisionen__buchung', 'cd_Buchung') }}",
        on_schema_change='append_new_columns',
    )
}}
{{ transaction_rows(
    'stg_provisionen__buchung',
    'cd_Buchung',
    'Booking_Date',
    ['Booking_Date', 'Booking_Type', 'Amount_EUR', 'Remark']
) }}
