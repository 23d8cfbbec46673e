{%- set f = fund() %}
{%- set max_horizon = f.horizons | max %}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['Score_Date', 'Depot_Number'],
        alias='CD_FA_LABELS_' ~ f.code,
        pre_hook="{{ delete_score_dates() }}",
        on_schema_change='fail',
    )
}}
-- CD_FA_LABELS_<CODE>: one row per aggregate row with Pre_First_Target = 1 (rules §8).
-- First build: every such row of CD_FA_AGG_BUY_<CODE>. Incremental run: the Score_Dates of
-- [start_date, end_date] (deleted first by the pre_hook) plus every stored row whose label
-- can have changed since it was written: a label still NULL (censored), a row whose
-- horizon reaches past the data horizon (catches a horizon that moved back), or a depot
-- whose first_buy_date differs from the stored one (a new first buy, a late cancellation).
-- All other stored labels are final: 1 and 0 depend only on first_buy_date, and a 0 only
-- on a horizon that has passed. delete+insert on (Score_Date, Depot_Number) replaces them.
with aggregates as (

    select Score_Date, Depot_Number
    from {{ ref('fa_agg_buy') }}
    where Pre_First_Target = 1

),

first_buys as (

    select * from {{ ref('int_first_buy_dates') }}

),

horizon as (

    select * from {{ ref('int_data_horizon') }}

),

{% if is_incremental() %}
stored as (

    select * from {{ this }}

),

refresh_keys as (

    select
        s.Score_Date,
        s.Depot_Number
    from stored as s
    cross join horizon as hz
    left join first_buys as fb
        on fb.Depot_Number = s.Depot_Number
    where not ({{ score_date_in_range('s.Score_Date') }})
        and (
            {%- for h in f.horizons %}
            s.label_T{{ h }} is null or
            {%- endfor %}
            hz.Data_Horizon is null
            or {{ add_days('s.Score_Date', max_horizon) }} > hz.Data_Horizon
            or (s.first_buy_date is null and fb.first_buy_date is not null)
            or (s.first_buy_date is not null and fb.first_buy_date is null)
            or s.first_buy_date <> fb.first_buy_date
        )

),

to_label as (

    select Score_Date, Depot_Number
    from aggregates
    where {{ score_date_in_range('Score_Date') }}

    union all

    -- a stored label row stands for an aggregate row with Pre_First_Target = 1 that no
    -- run since has changed (aggregates and labels of a Score_Date are always rebuilt
    -- together), so its key is taken as it is: joining it back to the aggregates made
    -- DuckDB materialise every Pre_First_Target row of the history on every run
    select Score_Date, Depot_Number
    from refresh_keys

),
{% else %}
to_label as (

    select Score_Date, Depot_Number from aggregates

),
{% endif %}

labelled as (

    select
        t.Score_Date,
        t.Depot_Number,
        fb.first_buy_date
        {%- for h in f.horizons %},
        cast(case
            when fb.first_buy_date > t.Score_Date
                and fb.first_buy_date <= {{ add_days('t.Score_Date', h) }} then 1
            when {{ add_days('t.Score_Date', h) }} <= hz.Data_Horizon then 0
        end as {{ t_int() }}) as label_T{{ h }}
        {%- endfor %}
    from to_label as t
    cross join horizon as hz
    left join first_buys as fb
        on fb.Depot_Number = t.Depot_Number

)

select * from labelled
