{{ config(materialized='table', alias='FA_DATA_QUALITY') }}
-- FA_DATA_QUALITY: source rows left out, counted per (Datei_Datum, Source_Table, Reason)
-- (rules §4). Datei_Datum is the day of the row's file (NULL for unknown_file rows and for
-- bad_file rows of a file without a date). Rebuilt whole on every run, cheaply: cd_Saldo and
-- cd_Bestand come counted per file from int_holdings_file_quality (incremental).
with files as (

    select Datei_Datum, file_status
    from {{ ref('int_files') }}

),

transaction_rows as (

    -- cd_Order and cd_Buchung, the rows left out (with their class)
    select Datei_Datum, Source_Table, dq_reason
    from {{ ref('int_transaction_rows') }}
    where dq_reason is not null

),

holdings_quality as (

    -- cd_Saldo and cd_Bestand counted per file and kept between runs, so a daily run
    -- classifies only new or changed B files, not the whole history (the model's header)
    select Datei_Datum, Source_Table, Reason, Row_Count
    from {{ ref('int_holdings_file_quality') }}
    where Reason is not null

),

left_out as (

    select Datei_Datum, 'cd_Datei' as Source_Table, file_status as Reason, count(*) as Row_Count
    from files
    where file_status = 'bad_file'
    group by Datei_Datum, file_status

    union all

    select Datei_Datum, Source_Table, dq_reason as Reason, count(*) as Row_Count
    from transaction_rows
    group by Datei_Datum, Source_Table, dq_reason

    union all

    select Datei_Datum, Source_Table, Reason, sum(Row_Count) as Row_Count
    from holdings_quality
    group by Datei_Datum, Source_Table, Reason

)

select
    Datei_Datum,
    cast(Source_Table as {{ t_text(20) }}) as Source_Table,
    cast(Reason as {{ t_text(40) }}) as Reason,
    cast(Row_Count as {{ t_int() }}) as Row_Count
from left_out
