-- cd_Order, normalised (rules §2) and flagged (rules §3, §4, the row-level classes; file,
-- date and duplicate classes need other rows and are added in int_transaction_rows).
with source as (

    select * from {{ source('provisionen', 'cd_Order') }}

),

normalised as (

    select
        cast(Datei_ID as integer) as Datei_ID,
        nullif({{ trim_text('Transaction_Number') }}, '') as Transaction_Number,
        nullif({{ trim_text('Depot_Number') }}, '') as Depot_Number,
        cast(Order_Date as date) as Order_Date,
        case lower({{ trim_text('OrderType') }})
            when 'purchase' then 'Purchase'
            when 'sale' then 'Sale'
            when 'savingsplan' then 'SavingsPlan'
            when 'transferin' then 'TransferIn'
            when 'transferout' then 'TransferOut'
        end as OrderType,
        nullif(upper({{ trim_text('ISIN') }}), '') as ISIN,
        cast(Units as decimal(18,6)) as Units,
        cast(Amount_EUR as decimal(18,2)) as Amount_EUR,
        {{ normalised_remark('Remark') }} as Remark,
        case when {{ is_storno('Remark') }} then 1 else 0 end as is_cancellation
    from source

),

flagged as (

    select
        *,
        case
            -- a cancellation is recognised before anything else; only its key matters
            when is_cancellation = 1 and Transaction_Number is null then 'null_key'
            when is_cancellation = 1 then null
            when Transaction_Number is null or Depot_Number is null then 'null_key'
            when Order_Date is null then 'null_date'
            when OrderType is null then 'unknown_type'
            when ISIN is null then 'bad_isin'
            when not ({{ isin_is_valid('ISIN') }}) then 'bad_isin'
            when Amount_EUR is null or Units is null then 'null_amount'
            when Amount_EUR < 0 then 'negative_amount'
            when Amount_EUR > 10000000 then 'absurd_amount'
        end as dq_reason
    from normalised

)

select * from flagged
