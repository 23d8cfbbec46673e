-- The feature deltas of every family (macros/feature_deltas.sql, feature_delta_families):
-- one row per family row, every delta column (0 where the family does not set it), for
-- fa_agg_buy to sum per depot in date order. A view: each family model is kept between
-- runs on its own; the rows with Delta_Date NULL (a depot without deltas in a family)
-- are left out.
{{ config(materialized='view') }}
{%- set families = feature_delta_families() %}
{%- set cols = feature_delta_columns() %}
with
{%- for model, own in families %}
{{ model }} as (

    select * from {{ ref(model) }}
    where Delta_Date is not null

),
{%- endfor %}

deltas as (
    {%- for model, own in families %}
    {%- set own_names = own | map(attribute=0) | list %}

    select
        Depot_Number,
        Delta_Date
        {%- for name, kind in cols %},
        {{ name if name in own_names else 'cast(0 as ' ~ delta_type(kind) ~ ')' }} as {{ name }}
        {%- endfor %}
    from {{ model }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

)

select * from deltas
