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
-- Each staging view is read by CTEs that are each read once: DuckDB materialises a CTE
-- that is read twice, which here meant computing every staging column of all 74M
-- cd_Bestand rows of the history (5 s at 50k depots x 24 months) instead of filtering on
-- the file first.
--
-- cd_Saldo and cd_Bestand are classified alike (rules §1, §4, duplicates by key within a
-- file); each block below is written once and rendered per table of `holdings_tables`:
-- its name, staging view, key and amount columns.
{%- set holdings_tables = [
    {'name': 'saldo', 'source_table': 'cd_Saldo', 'staging': 'stg_provisionen__saldo',
     'key': ['Depot_Number'], 'amounts': ['Cash_EUR']},
    {'name': 'bestand', 'source_table': 'cd_Bestand', 'staging': 'stg_provisionen__bestand',
     'key': ['Depot_Number', 'ISIN'], 'amounts': ['Units', 'Market_Value_EUR']},
] %}
with
{%- for h in holdings_tables %}
{{ h.name }} as (

    select * from {{ ref(h.staging) }}

),

{{ h.name }}_without_file as (

    select * from {{ ref(h.staging) }}
    where Datei_ID is null

),
{%- endfor %}

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
-- Counting without grouping every row by its full content (at 50k depots x 24 months
-- that grouping took 5.4 min for the first build; docs/performance.md):
--   * rows per file and class (row_reason; NULL = valid so far): few groups;
--   * duplicate_row / conflicting_duplicate concern only valid rows whose key occurs more
--     than once in their file. Candidate keys are found on (file, hash of the key), a
--     narrow aggregate; only the candidates' rows are then grouped exactly by content:
--     n_rows - 1 further copies of a content are duplicate_row, and every content of a key
--     with more than one content is a conflicting_duplicate (its first copy);
--   * the valid rows left are the file's valid count (Reason NULL).
-- The rows are read in one pass (`_groups`: both counts as two grouping sets) and the
-- candidates' rows once more from the staging view: on DuckDB a CTE that is read twice is
-- stored whole, and storing the 75M cd_Bestand rows of a 50k-depot history spilled
-- 5.5 GB under a 4GB limit (docs/performance.md, section 10).
{%- for h in holdings_tables %}
{%- set columns = h.key + h.amounts %}
{%- set r_columns = [] %}{% for c in columns %}{% do r_columns.append('r.' ~ c) %}{% endfor %}
{%- set r_key = [] %}{% for c in h.key %}{% do r_key.append('r.' ~ c) %}{% endfor %}
{{ h.name }}_todo as (

    select
        r.Datei_ID,
        t.Datei_Datum,
        {{ key_hash(r_key) }} as key_hash,
        case
            {{ file_class_branches('t.File_Status', 't.Datei_Typ', 'B') }}
            else r.dq_reason
        end as row_reason
    from {{ h.name }} as r
    inner join todo as t
        on t.Datei_ID = r.Datei_ID
        and t.Source_Table = '{{ h.source_table }}'

    union all

    -- rows without a Datei_ID: unknown_file
    select
        r.Datei_ID,
        cast(null as date) as Datei_Datum,
        {{ key_hash(r_key) }} as key_hash,
        'unknown_file' as row_reason
    from {{ h.name }}_without_file as r

),

{{ h.name }}_groups as (

    -- the rows per (file, class) (is_class_count 1), and the candidate keys: (file, key
    -- hash) of more than one valid row (is_class_count 0; a hash collision only adds a
    -- candidate, which the exact grouping of its contents clears)
    select
        Datei_ID, Datei_Datum, row_reason, key_hash, count(*) as n_rows,
        grouping(key_hash) as is_class_count
    from {{ h.name }}_todo
    group by grouping sets ((Datei_ID, Datei_Datum, row_reason), (Datei_ID, row_reason, key_hash))
    having grouping(key_hash) = 1 or (row_reason is null and count(*) > 1)

),

{{ h.name }}_by_reason as (

    select Datei_ID, Datei_Datum, row_reason, n_rows
    from {{ h.name }}_groups
    where is_class_count = 1

),

{{ h.name }}_contents as (

    -- each content of a candidate key with its copies (n_rows) and the number of contents
    -- of its key (n_versions). A candidate's file is one to do with valid rows, so its
    -- valid rows are its staging rows without a dq_reason.
    select
        r.Datei_ID, {{ r_columns | join(', ') }}, count(*) as n_rows,
        count(*) over (partition by r.Datei_ID, {{ r_key | join(', ') }}) as n_versions
    from {{ ref(h.staging) }} as r
    inner join {{ h.name }}_groups as k
        on k.Datei_ID = r.Datei_ID
        and k.key_hash = {{ key_hash(r_key) }}
        and k.is_class_count = 0
    where r.dq_reason is null
    group by r.Datei_ID, {{ r_columns | join(', ') }}

),

{{ h.name }}_duplicates as (

    -- per file: further copies (duplicate_row) and contents of conflicting keys
    select
        Datei_ID,
        sum(n_rows - 1) as n_duplicate,
        sum(case when n_versions > 1 then 1 else 0 end) as n_conflicting
    from {{ h.name }}_contents
    group by Datei_ID

),
{%- endfor %}

-- per file and class, both tables; the valid rows (row_reason NULL) with their file's
-- duplicate counts
by_reason as (
{%- for h in holdings_tables %}
    {%- if not loop.first %}

    union all
    {%- endif %}

    select
        r.Datei_ID, '{{ h.source_table }}' as Source_Table, r.Datei_Datum, r.row_reason, r.n_rows,
        d.n_duplicate, d.n_conflicting
    from {{ h.name }}_by_reason as r
    left join {{ h.name }}_duplicates as d
        on d.Datei_ID = r.Datei_ID
        and r.row_reason is null
{%- endfor %}

),

counts as (

    -- left out before the duplicate classes (file and row-level classes)
    select Datei_ID, Source_Table, Datei_Datum, row_reason as Reason, n_rows as Row_Count
    from by_reason
    where row_reason is not null

    union all

    -- valid rows: what the duplicate classes leave (Reason NULL)
    select
        Datei_ID, Source_Table, Datei_Datum, cast(null as {{ t_text(40) }}) as Reason,
        n_rows - coalesce(n_duplicate, 0) - coalesce(n_conflicting, 0) as Row_Count
    from by_reason
    where row_reason is null

    union all

    select Datei_ID, Source_Table, Datei_Datum, 'duplicate_row' as Reason, n_duplicate as Row_Count
    from by_reason
    where row_reason is null and n_duplicate > 0

    union all

    select Datei_ID, Source_Table, Datei_Datum, 'conflicting_duplicate' as Reason, n_conflicting as Row_Count
    from by_reason
    where row_reason is null and n_conflicting > 0

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
