{#- The FROM clause that gives every row of `universe` (Depot_Number, Score_Date; alias u)
    the row of `state` (Depot_Number, Delta_Date, no NULL Delta_Date; alias r) of its
    depot's latest Delta_Date <= Score_Date, or NULLs in r when there is none.
    DuckDB: an ASOF join (one sort-merge). Elsewhere (SQL Server has no ASOF JOIN): the
    latest delta day per universe row from one running max over a narrow stream of the
    depot's delta days and score days, then an equi-join on it. -#}
{% macro latest_state_join(universe, state) %}{{ return(adapter.dispatch('latest_state_join')(universe, state)) }}{% endmacro %}

{% macro duckdb__latest_state_join(universe, state) -%}
from {{ universe }} as u
    asof left join {{ state }} as r
        on r.Depot_Number = u.Depot_Number
        and r.Delta_Date <= u.Score_Date
{%- endmacro %}

{% macro sqlserver__latest_state_join(universe, state) %}{{ return(default__latest_state_join(universe, state)) }}{% endmacro %}

{% macro default__latest_state_join(universe, state) -%}
from {{ universe }} as u
    inner join (
        select
            Depot_Number,
            Stream_Date as Score_Date,
            is_delta,
            max(case when is_delta = 1 then Stream_Date end) over (
                partition by Depot_Number
                order by Stream_Date, is_delta desc
                rows between unbounded preceding and current row
            ) as last_delta_date
        from (
            select Depot_Number, Delta_Date as Stream_Date, 1 as is_delta
            from {{ state }}
            where Depot_Number in (select Depot_Number from {{ universe }})

            union all

            select Depot_Number, Score_Date as Stream_Date, 0 as is_delta
            from {{ universe }}
        ) as stream_dates
    ) as l
        on l.Depot_Number = u.Depot_Number
        and l.Score_Date = u.Score_Date
        and l.is_delta = 0
    left join {{ state }} as r
        on r.Depot_Number = l.Depot_Number
        and r.Delta_Date = l.last_delta_date
{%- endmacro %}
