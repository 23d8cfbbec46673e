{{ config(materialized='table', alias='FA_DATA_QUALITY') }}
-- FA_DATA_QUALITY: source rows left out, counted per (Datei_Datum, Source_Table, Reason)
-- (rules §4). Datei_Datum is the day of the row's file (NULL for unknown_file rows and for
-- bad_file rows of a file without a date). Rebuilt whole on every run.
with files as (

    select * from {{ ref('int_files') }}

),

order_rows as (

    select * from {{ ref('int_order_rows') }}

),

booking_rows as (

    select * from {{ ref('int_booking_rows') }}

),

saldo_rows as (

    select * from {{ ref('int_saldo_rows') }}

),

bestand_rows as (

    select * from {{ ref('int_bestand_rows') }}

),

left_out as (

    select Datei_Datum, 'cd_Datei' as Source_Table, file_status as Reason, count(*) as Row_Count
    from files
    where file_status = 'bad_file'
    group by Datei_Datum, file_status

    union all

    select Datei_Datum, 'cd_Order' as Source_Table, dq_reason as Reason, count(*) as Row_Count
    from order_rows
    where dq_reason is not null
    group by Datei_Datum, dq_reason

    union all

    select Datei_Datum, 'cd_Buchung' as Source_Table, dq_reason as Reason, count(*) as Row_Count
    from booking_rows
    where dq_reason is not null
    group by Datei_Datum, dq_reason

    union all

    -- grouped rows: the first copy of a content has dq_reason, further copies of a
    -- valid content are duplicate_row
    select Datei_Datum, 'cd_Saldo' as Source_Table, dq_reason as Reason, sum(n_rows - n_duplicate_rows) as Row_Count
    from saldo_rows
    where dq_reason is not null
    group by Datei_Datum, dq_reason

    union all

    select Datei_Datum, 'cd_Saldo' as Source_Table, 'duplicate_row' as Reason, sum(n_duplicate_rows) as Row_Count
    from saldo_rows
    where n_duplicate_rows > 0
    group by Datei_Datum

    union all

    -- grouped rows: the first copy of a content has dq_reason, further copies of a
    -- valid content are duplicate_row
    select Datei_Datum, 'cd_Bestand' as Source_Table, dq_reason as Reason, sum(n_rows - n_duplicate_rows) as Row_Count
    from bestand_rows
    where dq_reason is not null
    group by Datei_Datum, dq_reason

    union all

    select Datei_Datum, 'cd_Bestand' as Source_Table, 'duplicate_row' as Reason, sum(n_duplicate_rows) as Row_Count
    from bestand_rows
    where n_duplicate_rows > 0
    group by Datei_Datum

)

select
    Datei_Datum,
    cast(Source_Table as {{ t_text(20) }}) as Source_Table,
    cast(Reason as {{ t_text(40) }}) as Reason,
    cast(Row_Count as {{ t_int() }}) as Row_Count
from left_out
