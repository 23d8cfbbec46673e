{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_changed_holdings_files() }}",
        on_schema_change='fail',
    )
}}
-- The left-out counts of cd_Saldo and cd_Bestand per file (rules §1, §4), kept between
-- runs so that FA_DATA_QUALITY does not re-classify every B file of the history on every
-- daily run (at 50k depots x 24 months that is ~90M rows; docs/performance.md).
-- Grain: (Datei_ID, Source_Table, Reason); Reason NULL counts the valid rows, so the
-- counts of a file add up to its Source_Rows.
--
-- A file's counts depend only on its own rows and its file state (status, type, day), so
-- an incremental run classifies only files that are new, plus the rows without a
-- Datei_ID (few; always redone). The pre_hook (macros/holdings_file_quality.sql) first
-- deletes the stored files whose row count or file state changed since they were stored
-- (a correction superseding a file, a late cd_Datei row) or that left the source; those
-- are then new here and classified again.
with saldo as (

    select * from {{ ref('stg_provisionen__saldo') }}

),

bestand as (

    select * from {{ ref('stg_provisionen__bestand') }}

),

file_states as (

    select * from {{ ref('int_holdings_file_states') }}

),

{% if is_incremental() %}
todo as (

    select s.Datei_ID, s.Source_Table, s.Source_Rows, s.File_Status, s.Datei_Typ, s.Datei_Datum
    from file_states as s
    where not exists (
        select 1 from {{ this }} as t
        where t.Datei_ID = s.Datei_ID and t.Source_Table = s.Source_Table
    )

),
{% else %}
todo as (

    select Datei_ID, Source_Table, Source_Rows, File_Status, Datei_Typ, Datei_Datum from file_states

),
{% endif %}

-- The rows of the files to do (and the rows without a Datei_ID), with their class as in
-- int_saldo_rows / int_bestand_rows: file class first, else the row-level class. Filtered
-- before grouping: reading those views instead would group every file of the history
-- (DuckDB cannot push the filter into their CTEs). Same rules, same order of classes.
saldo_todo as (

    select
        s.Datei_ID,
        t.Datei_Datum,
        s.Depot_Number,
        s.Cash_EUR,
        case
            when t.File_Status = 'unknown_file' then 'unknown_file'
            when t.File_Status = 'bad_file' then 'bad_file'
            when t.Datei_Typ <> 'B' then 'wrong_file_type'
            when t.File_Status = 'superseded_file' then 'superseded_file'
            else s.dq_reason
        end as row_reason
    from saldo as s
    inner join todo as t
        on t.Datei_ID = s.Datei_ID
        and t.Source_Table = 'cd_Saldo'

    union all

    -- rows without a Datei_ID: unknown_file
    select
        s.Datei_ID,
        cast(null as date) as Datei_Datum,
        s.Depot_Number,
        s.Cash_EUR,
        'unknown_file' as row_reason
    from saldo as s
    where s.Datei_ID is null

),

bestand_todo as (

    select
        b.Datei_ID,
        t.Datei_Datum,
        b.Depot_Number,
        b.ISIN,
        b.Units,
        b.Market_Value_EUR,
        case
            when t.File_Status = 'unknown_file' then 'unknown_file'
            when t.File_Status = 'bad_file' then 'bad_file'
            when t.Datei_Typ <> 'B' then 'wrong_file_type'
            when t.File_Status = 'superseded_file' then 'superseded_file'
            else b.dq_reason
        end as row_reason
    from bestand as b
    inner join todo as t
        on t.Datei_ID = b.Datei_ID
        and t.Source_Table = 'cd_Bestand'

    union all

    -- rows without a Datei_ID: unknown_file
    select
        b.Datei_ID,
        cast(null as date) as Datei_Datum,
        b.Depot_Number,
        b.ISIN,
        b.Units,
        b.Market_Value_EUR,
        'unknown_file' as row_reason
    from bestand as b
    where b.Datei_ID is null

),

-- identical rows of a file (and class) collapse into one group of n_rows copies; among
-- valid groups, more than one content per key in a file is a conflicting_duplicate
saldo_groups as (

    select Datei_ID, Datei_Datum, Depot_Number, Cash_EUR, row_reason, count(*) as n_rows
    from saldo_todo
    group by Datei_ID, Datei_Datum, Depot_Number, Cash_EUR, row_reason

),

saldo_versions as (

    select Datei_ID, Depot_Number, count(*) as n_versions
    from saldo_groups
    where row_reason is null
    group by Datei_ID, Depot_Number

),

bestand_groups as (

    select Datei_ID, Datei_Datum, Depot_Number, ISIN, Units, Market_Value_EUR, row_reason,
        count(*) as n_rows
    from bestand_todo
    group by Datei_ID, Datei_Datum, Depot_Number, ISIN, Units, Market_Value_EUR, row_reason

),

bestand_versions as (

    select Datei_ID, Depot_Number, ISIN, count(*) as n_versions
    from bestand_groups
    where row_reason is null
    group by Datei_ID, Depot_Number, ISIN

),

-- per group: the first copy's class, and the further copies of a valid content
-- (duplicate_row)
classified as (

    select
        g.Datei_ID,
        'cd_Saldo' as Source_Table,
        g.Datei_Datum,
        case
            when g.row_reason is not null then g.row_reason
            when v.n_versions > 1 then 'conflicting_duplicate'
        end as Reason,
        case when g.row_reason is null then g.n_rows - 1 else 0 end as n_duplicate_rows,
        g.n_rows
    from saldo_groups as g
    left join saldo_versions as v
        on v.Datei_ID = g.Datei_ID
        and v.Depot_Number = g.Depot_Number

    union all

    select
        g.Datei_ID,
        'cd_Bestand' as Source_Table,
        g.Datei_Datum,
        case
            when g.row_reason is not null then g.row_reason
            when v.n_versions > 1 then 'conflicting_duplicate'
        end as Reason,
        case when g.row_reason is null then g.n_rows - 1 else 0 end as n_duplicate_rows,
        g.n_rows
    from bestand_groups as g
    left join bestand_versions as v
        on v.Datei_ID = g.Datei_ID
        and v.Depot_Number = g.Depot_Number
        and v.ISIN = g.ISIN

),

counts as (

    -- first copies by class (never duplicate_row), then further copies as duplicate_row
    select Datei_ID, Source_Table, Datei_Datum, Reason, sum(n_rows - n_duplicate_rows) as Row_Count
    from classified
    group by Datei_ID, Source_Table, Datei_Datum, Reason

    union all

    select Datei_ID, Source_Table, Datei_Datum, 'duplicate_row' as Reason, sum(n_duplicate_rows) as Row_Count
    from classified
    where n_duplicate_rows > 0
    group by Datei_ID, Source_Table, Datei_Datum

)

select
    m.Datei_ID,
    cast(m.Source_Table as {{ t_text(20) }}) as Source_Table,
    m.Datei_Datum,
    cast(m.Reason as {{ t_text(40) }}) as Reason,
    cast(m.Row_Count as {{ t_int() }}) as Row_Count,
    -- the file state the counts were made with (NULL for rows without a Datei_ID)
    cast(t.Source_Rows as {{ t_int() }}) as Source_Rows,
    cast(t.File_Status as {{ t_text(20) }}) as File_Status,
    cast(t.Datei_Typ as {{ t_text(1) }}) as Datei_Typ
from counts as m
left join todo as t
    on t.Datei_ID = m.Datei_ID
    and t.Source_Table = m.Source_Table
