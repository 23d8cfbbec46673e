{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_changed_depots(row_signatures(sibling('int_transaction_rows'), 'cd_Order')) }}",
        on_schema_change='append_new_columns',
    )
}}
-- One row per valid order (the original of its transaction; rules §3, §5) with its
-- knowledge time: known_from = its file's Datei_Datum, cancelled_from = the earliest
-- Datei_Datum of a counting U file holding a cancellation row with the same
-- Transaction_Number (NULL: never cancelled). Also the fund's rule flags (0/1).
{%- set f = fund() %}
-- Kept between runs per depot: a run recomputes the depots whose row signature changed
-- (macros/depot_signatures.sql); Sig_Rows / Sig_Hash are the signature each row was
-- computed from.
{%- set incremental = is_incremental() %}
with {{ transaction_imports('cd_Order', incremental) }}

select
    o.Transaction_Number,
    o.Depot_Number,
    o.Transaction_Date as Order_Date,
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
    end as is_target_purchase,
    s.Sig_Rows,
    s.Sig_Hash
from originals as o
left join cancellations as c
    on c.Transaction_Number = o.Transaction_Number
inner join row_signatures as s
    on s.Depot_Number = o.Depot_Number
