-- cd_Buchung, normalised (rules §2) and flagged (rules §3, §4 row-level classes).
-- Amounts are signed by design: no negative_amount class.
with source as (

    select * from {{ source('provisionen', 'cd_Buchung') }}

),

normalised as (

    select
        {{ transaction_key_columns() }},
        cast(Booking_Date as date) as Booking_Date,
        case lower({{ trim_text('Booking_Type') }})
            when 'deposit' then 'Deposit'
            when 'withdrawal' then 'Withdrawal'
            when 'fee' then 'Fee'
            when 'dividend' then 'Dividend'
            when 'settlement' then 'Settlement'
            when 'interest' then 'Interest'
            when 'tax' then 'Tax'
        end as Booking_Type,
        cast(Amount_EUR as decimal(18,2)) as Amount_EUR,
        {{ cancellation_columns() }}
    from source

),

flagged as (

    select
        *,
        case
            {{ transaction_key_class_branches() }}
            when Booking_Date is null then 'null_date'
            when Booking_Type is null then 'unknown_type'
            when Amount_EUR is null then 'null_amount'
            when Amount_EUR > 10000000 or Amount_EUR < -10000000 then 'absurd_amount'
        end as dq_reason
    from normalised

)

select * from flagged
