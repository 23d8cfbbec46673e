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
-- on a horizon that has passed. Of those candidates only the rows whose values change
-- are written (each day that is the few days whose horizon just passed and the depots
-- whose first buy changed, not the whole censored month); delete+insert on
-- (Score_Date, Depot_Number) replaces them.
with aggregates as (

    select Score_Date, Depot_Number
    from {{ ref('fa_agg_buy') }}
    where Pre_First_Target = 1

),

first_buys as (

    select Depot_Number, first_buy_date
    from {{ ref('int_first_buy_dates') }}

),

horizon as (

    select Data_Horizon
    from {{ ref('int_data_horizon') }}

),

-- the rows of the range (first build: every row), labelled from scratch
new_keys as (

    select
        Score_Date,
        Depot_Number,
        1 as is_new,
        cast(null as date) as stored_first_buy_date
        {%- for h in f.horizons %},
        cast(null as {{ t_int() }}) as stored_T{{ h }}
        {%- endfor %}
    from aggregates
    {%- if is_incremental() %}
    where {{ score_date_in_range('Score_Date') }}
    {%- endif %}

),

{% if is_incremental() %}
stored_first_buys as (

    -- one first_buy_date per depot: a run rewrites every row of a depot whose date changed
    select distinct Depot_Number, first_buy_date
    from {{ this }}
    where first_buy_date is not null

),

stored as (

    select * from {{ this }}

),

-- depots whose first_buy_date changed since their rows were written (a new first buy, a
-- late delivery of an earlier one, a late cancellation of the first buy)
changed_depots as (

    select coalesce(s.Depot_Number, fb.Depot_Number) as Depot_Number
    from stored_first_buys as s
    full outer join first_buys as fb
        on fb.Depot_Number = s.Depot_Number
    where s.Depot_Number is null
        or fb.Depot_Number is null
        or s.first_buy_date <> fb.first_buy_date

),

-- stored rows outside the range whose label can have changed: censored, near the horizon,
-- or of a changed depot; with their stored values, so that only rows that really change
-- are rewritten
refresh_candidates as (

    select
        s.Score_Date,
        s.Depot_Number,
        s.first_buy_date as stored_first_buy_date
        {%- for h in f.horizons %},
        s.label_T{{ h }} as stored_T{{ h }}
        {%- endfor %}
    from stored as s
    cross join horizon as hz
    left join changed_depots as c
        on c.Depot_Number = s.Depot_Number
    where not ({{ score_date_in_range('s.Score_Date') }})
        and (
            {%- for h in f.horizons %}
            s.label_T{{ h }} is null or
            {%- endfor %}
            hz.Data_Horizon is null
            or {{ add_days('s.Score_Date', max_horizon) }} > hz.Data_Horizon
            or c.Depot_Number is not null
        )

),

to_label as (

    select * from new_keys

    union all

    -- a stored label row stands for an aggregate row with Pre_First_Target = 1 that no
    -- run since has changed (aggregates and labels of a Score_Date are always rebuilt
    -- together), so its key is taken as it is: joining it back to the aggregates made
    -- DuckDB materialise every Pre_First_Target row of the history on every run
    select
        Score_Date,
        Depot_Number,
        0 as is_new,
        stored_first_buy_date
        {%- for h in f.horizons %},
        stored_T{{ h }}
        {%- endfor %}
    from refresh_candidates

),
{% else %}
to_label as (

    select * from new_keys

),
{% endif %}

labelled as (

    select
        t.Score_Date,
        t.Depot_Number,
        t.is_new,
        t.stored_first_buy_date
        {%- for h in f.horizons %},
        t.stored_T{{ h }}
        {%- endfor %},
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

-- the range's rows, and the stored rows whose values change (NULLs compared as values)
select
    Score_Date,
    Depot_Number,
    first_buy_date
    {%- for h in f.horizons %},
    label_T{{ h }}
    {%- endfor %}
from labelled
where is_new = 1
    or coalesce(first_buy_date, cast('1900-01-01' as date))
        <> coalesce(stored_first_buy_date, cast('1900-01-01' as date))
    {%- for h in f.horizons %}
    or coalesce(label_T{{ h }}, -1) <> coalesce(stored_T{{ h }}, -1)
    {%- endfor %}
