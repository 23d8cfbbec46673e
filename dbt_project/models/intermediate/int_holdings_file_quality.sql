{{ config(materialized='incremental', pre_hook="{{ delete_changed_holdings_files() }}") }}
-- The left-out counts of cd_Saldo and cd_Bestand per file (rules §1, §4), kept between
-- runs so that FA_DATA_QUALITY does not re-classify every B file of the history on every
-- daily run (at 50k depots x 24 months that is ~90M rows; docs/performance.md).
-- Grain: (Datei_ID, Source_Table, Reason); Reason NULL counts the valid rows, so the
-- counts of a file add up to its Source_Rows.
--
-- A file's counts depend only on its own rows and its file state (status, type, day), so
-- an incremental run classifies only files that are new, plus the rows without a
-- Datei_ID (few; always redone). The pre_hook (macros/incremental/changed_files.sql) first
-- deletes the stored files whose row count or file state changed since they were stored
-- (a correction superseding a file, a late cd_Datei row) or that left the source; those
-- are then new here and classified again.
--
-- Each staging view is read by exactly one CTE: DuckDB materialises a CTE that is read
-- twice, which here meant computing every staging column of all 74M cd_Bestand rows of
-- the history (5 s at 50k depots x 24 months) instead of filtering on the file first.
with saldo as (

    select * from {{ ref('stg_provisionen__saldo') }}

),

saldo_without_file as (

    select * from {{ ref('stg_provisionen__saldo') }}
    where Datei_ID is null

),

bestand as (

    select * from {{ ref('stg_provisionen__bestand') }}

),

bestand_without_file as (

    select * from {{ ref('stg_provisionen__bestand') }}
    where Datei_ID is null

),

file_states as (

    select
        File_Key as Datei_ID, Source_Table, Source_Rows, File_Status, Datei_Typ, Datei_Datum
    from {{ ref('int_file_states') }}
    -- rows without a Datei_ID (File_Key -1) are counted on every run (below)
    where Source_Table in ('cd_Saldo', 'cd_Bestand') and File_Key <> -1

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

-- The rows of the files to do (and the rows without a Datei_ID), with their class (rules
-- §1, §4): file class first, else the row-level class. Filtered before grouping, so a
-- daily run does not group every file of the history.
saldo_todo as (

    select
        s.Datei_ID,
        t.Datei_Datum,
        s.Depot_Number,
        s.Cash_EUR,
        case
            {{ file_class_branches('t.File_Status', 't.Datei_Typ', 'B') }}
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
    from saldo_without_file as s

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
            {{ file_class_branches('t.File_Status', 't.Datei_Typ', 'B') }}
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
    from bestand_without_file as b

),

-- Counting without grouping every row by its full content (at 50k depots x 24 months
-- that grouping took 5.4 min for the first build; docs/performance.md):
--   * rows per file and class (row_reason; NULL = valid so far): few groups;
--   * duplicate_row / conflicting_duplicate concern only valid rows whose key occurs more
--     than once in their file. Candidate keys are found on (file, hash of the key), a
--     narrow aggregate; only the candidates' rows are then grouped exactly by content:
--     n_rows - 1 further copies of a content are duplicate_row, and every content of a key
--     with more than one content is a conflicting_duplicate (its first copy);
--   * the valid rows left are the file's valid count (Reason NULL).
saldo_by_reason as (

    select Datei_ID, Datei_Datum, row_reason, count(*) as n_rows
    from saldo_todo
    group by Datei_ID, Datei_Datum, row_reason

),

saldo_candidate_keys as (

    select Datei_ID, {{ key_hash(['Depot_Number']) }} as key_hash
    from saldo_todo
    where row_reason is null
    group by Datei_ID, {{ key_hash(['Depot_Number']) }}
    having count(*) > 1

),

saldo_contents as (

    select s.Datei_ID, s.Depot_Number, s.Cash_EUR, count(*) as n_rows
    from saldo_todo as s
    inner join saldo_candidate_keys as k
        on k.Datei_ID = s.Datei_ID
        and k.key_hash = {{ key_hash(['s.Depot_Number']) }}
    where s.row_reason is null
    group by s.Datei_ID, s.Depot_Number, s.Cash_EUR

),

saldo_versions as (

    select Datei_ID, Depot_Number, count(*) as n_versions
    from saldo_contents
    group by Datei_ID, Depot_Number

),

bestand_by_reason as (

    select Datei_ID, Datei_Datum, row_reason, count(*) as n_rows
    from bestand_todo
    group by Datei_ID, Datei_Datum, row_reason

),

bestand_candidate_keys as (

    select Datei_ID, {{ key_hash(['Depot_Number', 'ISIN']) }} as key_hash
    from bestand_todo
    where row_reason is null
    group by Datei_ID, {{ key_hash(['Depot_Number', 'ISIN']) }}
    having count(*) > 1

),

bestand_contents as (

    select b.Datei_ID, b.Depot_Number, b.ISIN, b.Units, b.Market_Value_EUR, count(*) as n_rows
    from bestand_todo as b
    inner join bestand_candidate_keys as k
        on k.Datei_ID = b.Datei_ID
        and k.key_hash = {{ key_hash(['b.Depot_Number', 'b.ISIN']) }}
    where b.row_reason is null
    group by b.Datei_ID, b.Depot_Number, b.ISIN, b.Units, b.Market_Value_EUR

),

bestand_versions as (

    select Datei_ID, Depot_Number, ISIN, count(*) as n_versions
    from bestand_contents
    group by Datei_ID, Depot_Number, ISIN

),

-- per file: further copies (duplicate_row) and contents of conflicting keys
duplicates as (

    select
        c.Datei_ID,
        'cd_Saldo' as Source_Table,
        sum(c.n_rows - 1) as n_duplicate,
        sum(case when v.n_versions > 1 then 1 else 0 end) as n_conflicting
    from saldo_contents as c
    inner join saldo_versions as v
        on v.Datei_ID = c.Datei_ID
        and v.Depot_Number = c.Depot_Number
    group by c.Datei_ID

    union all

    select
        c.Datei_ID,
        'cd_Bestand' as Source_Table,
        sum(c.n_rows - 1) as n_duplicate,
        sum(case when v.n_versions > 1 then 1 else 0 end) as n_conflicting
    from bestand_contents as c
    inner join bestand_versions as v
        on v.Datei_ID = c.Datei_ID
        and v.Depot_Number = c.Depot_Number
        and v.ISIN = c.ISIN
    group by c.Datei_ID

),

by_reason as (

    select Datei_ID, 'cd_Saldo' as Source_Table, Datei_Datum, row_reason, n_rows from saldo_by_reason
    union all
    select Datei_ID, 'cd_Bestand' as Source_Table, Datei_Datum, row_reason, n_rows from bestand_by_reason

),

counts as (

    -- left out before the duplicate classes (file and row-level classes)
    select Datei_ID, Source_Table, Datei_Datum, row_reason as Reason, n_rows as Row_Count
    from by_reason
    where row_reason is not null

    union all

    -- valid rows: what the duplicate classes leave (Reason NULL)
    select
        r.Datei_ID, r.Source_Table, r.Datei_Datum, cast(null as {{ t_text(40) }}) as Reason,
        r.n_rows - coalesce(d.n_duplicate, 0) - coalesce(d.n_conflicting, 0) as Row_Count
    from by_reason as r
    left join duplicates as d
        on d.Datei_ID = r.Datei_ID
        and d.Source_Table = r.Source_Table
    where r.row_reason is null

    union all

    select r.Datei_ID, r.Source_Table, r.Datei_Datum, 'duplicate_row' as Reason, d.n_duplicate as Row_Count
    from by_reason as r
    inner join duplicates as d
        on d.Datei_ID = r.Datei_ID
        and d.Source_Table = r.Source_Table
    where r.row_reason is null and d.n_duplicate > 0

    union all

    select r.Datei_ID, r.Source_Table, r.Datei_Datum, 'conflicting_duplicate' as Reason, d.n_conflicting as Row_Count
    from by_reason as r
    inner join duplicates as d
        on d.Datei_ID = r.Datei_ID
        and d.Source_Table = r.Source_Table
    where r.row_reason is null and d.n_conflicting > 0

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
