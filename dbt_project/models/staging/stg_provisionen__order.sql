-- cd_Order, normalised (rules §2) and flagged (rules §3, §4, the row-level classes; file,
-- date and duplicate classes need other rows and are added in int_transaction_rows).
with source as (

    select * from {{ source('provisionen', 'cd_Order') }}

),

normalised as (

    select
        {{ transaction_key_columns() }},
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
        {{ cancellation_columns() }}
    from source

),

flagged as (

    select
        *,
        case
            {{ transaction_key_class_branches() }}
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
