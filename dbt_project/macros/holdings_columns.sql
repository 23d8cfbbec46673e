{#- The columns int_holdings adds for fa_agg_buy (docs/rules.md §7b), in table order; the
    same names as ml/features.py HOLDINGS_FEATURES. -#}
{% macro holdings_v2_columns() %}
    {{ return(['Tenure_Days', 'Cash_Change_7d', 'Cash_Change_30d', 'Portfolio_Change_7d',
               'Portfolio_Change_30d', 'Max_Position_Share', 'House_Positions', 'House_Value',
               'House_Buys_365d', 'Cooc_Score']) }}
{% endmacro %}
