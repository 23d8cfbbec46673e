{#- The delta columns of int_feature_deltas, in a fixed order. Each delta row sets some of
    them; the rest are 0. Money columns are decimals so sums stay exact. -#}
{% macro feature_delta_columns() %}
    {{ return([
        ('d_buys_7d', 'int'),
        ('d_buys_30d', 'int'),
        ('d_ticket_sum_90d', 'money'),
        ('d_ticket_n_90d', 'int'),
        ('d_deposit_30d', 'money'),
        ('d_turnover_30d', 'money'),
        ('d_orders_30d', 'int'),
        ('d_cancelled_30d', 'int'),
        ('d_target_active', 'int'),
        ('d_last_buy_unc', 'int'),
        ('d_last_buy_canc', 'int'),
        ('d_new_refs_90d', 'int'),
    ]) }}
{% endmacro %}

{#- The select list of one delta row: Depot_Number, Delta_Date, then every delta column,
    taking `values[name]` (an SQL expression) or 0. -#}
{% macro delta_select_list(depot, delta_date, values) -%}
    {{ depot }} as Depot_Number,
    {{ delta_date }} as Delta_Date
    {%- for name, kind in feature_delta_columns() %},
    cast({{ values.get(name, '0') }} as {{ t_money() if kind == 'money' else t_int() }}) as {{ name }}
    {%- endfor %}
{%- endmacro %}

{#- The running-total window over a depot's delta stream (ROWS frame, never RANGE). -#}
{% macro running_total() -%}
    over (partition by Depot_Number order by Stream_Date rows between unbounded preceding and current row)
{%- endmacro %}
