-- The current signature of every depot in int_booking_transactions (docs/dbt.md,
-- *Incremental design*): one row per depot with the Sig_Rows / Sig_Hash its rows there
-- carry. Read by every per-depot model downstream of that table (feature delta families,
-- int_feature_state) to compare with the signature stored with its own rows
-- (macros/incremental/depot_signatures.sql): one narrow scan of the transactions per run
-- instead of two per downstream model (its pre_hook and its body). Rebuilt on every run
-- from the current transactions, so it is never out of date with them.
with transactions as (

    select * from {{ ref('int_booking_transactions') }}

)

select distinct
    Depot_Number,
    Sig_Rows,
    Sig_Hash
from transactions
