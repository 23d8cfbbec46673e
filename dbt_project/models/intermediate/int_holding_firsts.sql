{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['Depot_Number', 'ISIN'],
        pre_hook="{{ delete_holding_firsts_if_full() }}",
        on_schema_change='fail',
    )
}}
-- depends_on: {{ ref('int_file_states') }} (read by macros/incremental/holding_firsts.sql)
-- First holdings per depot (docs/rules.md §7b): for ISIN '-', the Datei_Datum of the
-- depot's first counting B file with a valid cd_Saldo row (Tenure_Days); for an ISIN, of
-- its first counting B file with a valid position in it with Units > 0 (co-occurrence).
-- A min over counting files: every file with Datei_Datum <= D is known by D, so the value
-- as of D is this min whenever it is <= D (and no file after D can lower it below D).
-- Kept between runs (macros/incremental/holding_firsts.sql): an incremental run reads only the B
-- files not yet registered and lowers or adds first dates.
{%- set mode = holding_firsts_mode() %}
with files as (

    select Datei_ID, Datei_Typ, Datei_Datum, is_counting
    from {{ ref('int_files') }}

),

b_files as (

    select Datei_ID, Datei_Datum
    from files
    where is_counting = 1 and Datei_Typ = 'B'

),

{% if mode == 'incremental' -%}
todo_files as (

    -- registered files are unchanged (else the mode is full): only the new ones
    select b.Datei_ID, b.Datei_Datum
    from b_files as b
    where not exists (
        select 1 from {{ sibling('int_holding_firsts_files') }} as r
        where r.Datei_ID = b.Datei_ID
    )

),
{%- else -%}
todo_files as (

    select Datei_ID, Datei_Datum from b_files

),
{%- endif %}

-- the valid rows of those files (macros/valid_holdings.sql)
saldo_valid as (

    {{ valid_saldo_rows('stg_provisionen__saldo', 'todo_files', ['Datei_Datum']) }}

),

held_valid as (

    {{ valid_position_rows('stg_provisionen__bestand', 'todo_files', ['Datei_Datum']) }}

),

new_firsts as (

    select Depot_Number, '-' as ISIN, min(Datei_Datum) as First_Date
    from saldo_valid
    group by Depot_Number

    union all

    select Depot_Number, ISIN, min(Datei_Datum) as First_Date
    from held_valid
    where Units > 0
    group by Depot_Number, ISIN

)

{% if mode == 'incremental' -%}
select
    n.Depot_Number,
    cast(n.ISIN as {{ t_text(12) }}) as ISIN,
    case when t.First_Date < n.First_Date then t.First_Date else n.First_Date end as First_Date
from new_firsts as n
left join {{ this }} as t
    on t.Depot_Number = n.Depot_Number
    and t.ISIN = n.ISIN
{%- else -%}
select
    Depot_Number,
    cast(ISIN as {{ t_text(12) }}) as ISIN,
    First_Date
from new_firsts
{%- endif %}
