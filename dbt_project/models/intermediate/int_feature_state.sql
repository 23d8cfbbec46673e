-- The raw feature state of every depot after each of its delta days: the running sums of
-- every delta column of int_feature_deltas (all families) in Delta_Date order, one row per
-- (Depot_Number, Delta_Date). The state on a Score_Date D is the row of the depot's latest
-- Delta_Date <= D (fa_agg_buy turns it into features). Like the deltas, the state does not
-- depend on the run's date range, so it is computed once per change of a depot, not per
-- run or backfill chunk.
--
-- Kept between runs per depot: a run recomputes the depots whose signature over
-- int_order_transactions and int_booking_transactions (the inputs of every family)
-- differs from the one stored here; a depot without any delta keeps one row with
-- Delta_Date NULL.
{{ config(materialized='incremental', pre_hook="{{ family_pre_hook(['int_order_transactions', 'int_booking_transactions']) }}") }}
{%- set cols = feature_delta_columns() %}
{%- set incremental = is_incremental() %}
with signatures as (

    {{ depot_signatures([ref('int_order_signatures'), ref('int_booking_signatures')]) }}

),
{%- if incremental %}

changed as (

    {{ changed_depots('signatures', this) }}

),
{%- endif %}

feature_deltas as (

    select * from {{ ref('int_feature_deltas') }}
    {%- if incremental %}
    where Depot_Number in (select Depot_Number from changed)
    {%- endif %}

),

daily_deltas as (

    -- the sums per depot and day, then their running sums (macros/feature_deltas.sql,
    -- state_sums: on DuckDB the counts and day numbers four to a sum)
    select
        Depot_Number,
        Delta_Date,
        {{- state_sums(cols) }}
    from feature_deltas
    group by Depot_Number, Delta_Date

),

running as (

    select
        Depot_Number,
        Delta_Date,
        {{- state_sums(cols, 'over (partition by Depot_Number order by Delta_Date rows between unbounded preceding and current row)') }}
    from daily_deltas

)

select
    s.Depot_Number,
    r.Delta_Date
    {%- for name, kind in cols %},
    cast(coalesce({{ running_sum('r', name, kind, cols) }}, 0) as {{ delta_type(kind) }}) as {{ name | replace('d_', 'r_', 1) }}
    {%- endfor %},
    s.Sig_Rows,
    s.Sig_Hash
{{ signature_depots_from('running', 'r', incremental) }}
