-- cd_Bestand, normalised and flagged (rules §2, §4 row-level classes).
with source as (

    select * from {{ source('provisionen', 'cd_Bestand') }}

),

normalised as (

    select
        cast(Datei_ID as integer) as Datei_ID,
        nullif({{ trim_text('Depot_Number') }}, '') as Depot_Number,
        nullif(upper({{ trim_text('ISIN') }}), '') as ISIN,
        cast(Units as decimal(18,6)) as Units,
        cast(Market_Value_EUR as decimal(18,2)) as Market_Value_EUR
    from source

),

flagged as (

    select
        *,
        case
            when Depot_Number is null or ISIN is null then 'null_key'
            when not ({{ isin_is_valid('ISIN') }}) then 'bad_isin'
            when Units is null or Market_Value_EUR is null then 'null_amount'
            when Units < 0 then 'negative_amount'
            when Market_Value_EUR > 10000000000 or Market_Value_EUR < -10000000000 then 'absurd_amount'
        end as dq_reason
    from normalised

)

select * from flagged
