-- Every cd_Order row with its final class (rules §1, §3, §4): dq_reason NULL for valid
-- rows and for cancellation rows of counting U files; is_cancellation as in staging.
-- Incremental: only the transaction numbers of new or changed files are classified again
-- (macros/transaction_rows.sql). The classification is shared with int_booking_rows (macros/transaction_rows.sql).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_changed_transaction_rows('stg_provisionen__order', 'cd_Order') }}",
        on_schema_change='append_new_columns',
    )
}}
{{ transaction_rows(
    'stg_provisionen__order',
    'cd_Order',
    'Order_Date',
    ['Order_Date', 'OrderType', 'ISIN', 'Units', 'Amount_EUR', 'Remark']
) }}
