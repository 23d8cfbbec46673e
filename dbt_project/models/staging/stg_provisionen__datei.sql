-- cd_Datei, normalised: type trimmed and upper-cased; a file row that can never count
-- (NULL id, NULL date, type not U/B) is flagged bad_file (rules §1).
with source as (

    select * from {{ source('provisionen', 'cd_Datei') }}

),

renamed as (

    select
        cast(Datei_ID as integer) as Datei_ID,
        upper({{ trim_text('Datei_Typ') }}) as Datei_Typ,
        cast(Datei_Datum as date) as Datei_Datum,
        Import_Zeit,
        Datei_Name,
        case
            when Datei_ID is null or Datei_Datum is null then 'bad_file'
            when upper({{ trim_text('Datei_Typ') }}) in ('U', 'B') then null
            else 'bad_file'
        end as dq_reason
    from source

)

select * from renamed
