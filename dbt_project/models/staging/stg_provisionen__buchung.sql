-- cd_Buchung, normalised (rules §2) and flagged (rules §3, §4 row-level classes).
-- Amounts are signed by design: no negative_amount class.
with source as (

    select * from {{ source('provisionen', 'cd_Buchung') }}

),

normalised as (

    select
        cast(Datei_ID as integer) as Datei_ID,
        nullif({{ trim_text('Transaction_Number') }}, '') as Transaction_Number,
        nullif({{ trim_text('Depot_Number') }}, '') as Depot_Number,
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
        {{ normalised_remark('Remark') }} as Remark,
        case when {{ is_storno('Remark') }} then 1 else 0 end as is_cancellation
    from source

),

flagged as (

    select
        *,
        case
            when is_cancellation = 1 and Transaction_Number is null then 'null_key'
            when is_cancellation = 1 then null
            when Transaction_Number is null or Depot_Number is null then 'null_key'
            when Booking_Date is null then 'null_date'
            when Booking_Type is null then 'unknown_type'
            when Amount_EUR is null then 'null_amount'
            when Amount_EUR > 10000000 or Amount_EUR < -10000000 then 'absurd_amount'
        end as dq_reason
    from normalised

)

select * from flagged
