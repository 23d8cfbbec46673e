-- cd_Saldo, normalised and flagged (rules §2, §4 row-level classes).
with source as (

    select * from {{ source('provisionen', 'cd_Saldo') }}

),

normalised as (

    select
        cast(Datei_ID as integer) as Datei_ID,
        nullif({{ trim_text('Depot_Number') }}, '') as Depot_Number,
        cast(Cash_EUR as decimal(18,2)) as Cash_EUR
    from source

),

flagged as (

    select
        *,
        case
            when Depot_Number is null then 'null_key'
            when Cash_EUR is null then 'null_amount'
            when Cash_EUR > 10000000000 or Cash_EUR < -10000000000 then 'absurd_amount'
        end as dq_reason
    from normalised

)

select * from flagged
