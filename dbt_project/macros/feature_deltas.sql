{#- The feature delta families (docs/dbt.md, *How the features are computed*): one model
    per family, each holding +v/-v deltas per (Depot_Number, Delta_Date) for its own
    columns, and int_feature_deltas, the union of all families with every column (0 where
    a family does not set it). In a fixed order; money columns are decimals so sums stay
    exact; 'decay' columns are decimals of 10 places (Deposit_Decay, rules §7a). -#}
{% macro feature_delta_families() %}
    {{ return([
        ('int_deltas_order_windows', [
            ('d_buys_7d', 'int'),
            ('d_buys_30d', 'int'),
            ('d_ticket_sum_90d', 'money'),
            ('d_ticket_n_90d', 'int'),
            ('d_turnover_30d', 'money'),
            ('d_orders_30d', 'int'),
            ('d_cancelled_30d', 'int'),
            ('d_target_active', 'int'),
            ('d_buys_365d', 'int'),
            ('d_orders_90d', 'int'),
            ('d_orders_365d', 'int'),
            ('d_sales_90d', 'int'),
            ('d_sales_365d', 'int'),
            ('d_sale_proceeds_30d', 'money'),
            ('d_target_sp_365d', 'int'),
            ('d_target_ti_365d', 'int'),
        ]),
        ('int_deltas_booking_windows', [
            ('d_deposit_30d', 'money'),
            ('d_deposit_7d', 'money'),
            ('d_deposit_14d', 'money'),
            ('d_deposit_90d', 'money'),
            ('d_withdrawal_30d', 'money'),
            ('d_decay_even', 'decay'),
            ('d_decay_odd', 'decay'),
        ]),
        ('int_deltas_recency', [
            ('d_last_buy_unc', 'int'),
            ('d_last_buy_canc', 'int'),
            ('d_last_deposit_unc', 'int'),
            ('d_last_deposit_canc', 'int'),
            ('d_last_target_sp_unc', 'int'),
            ('d_last_target_sp_canc', 'int'),
        ]),
        ('int_deltas_new_refs', [
            ('d_new_refs_90d', 'int'),
        ]),
        ('int_deltas_distinct_isins', [
            ('d_isins_bought_90d', 'int'),
            ('d_isins_bought_365d', 'int'),
        ]),
    ]) }}
{% endmacro %}

{#- Every delta column of every family, in order: [(name, kind)]. -#}
{% macro feature_delta_columns() %}
    {%- set out = [] -%}
    {%- for model, cols in feature_delta_families() -%}
        {%- do out.extend(cols) -%}
    {%- endfor -%}
    {{ return(out) }}
{% endmacro %}

{#- The delta columns of one family model: [(name, kind)]. -#}
{% macro family_delta_columns(model) %}
    {%- for name, cols in feature_delta_families() -%}
        {%- if name == model -%}{{ return(cols) }}{%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('no feature delta family ' ~ model) }}
{% endmacro %}

{#- The SQL type of a delta column kind. -#}
{% macro delta_type(kind) -%}
    {{ t_money() if kind == 'money' else ('decimal(38,10)' if kind == 'decay' else t_int()) }}
{%- endmacro %}

{#- sum(expr) of a delta column of this kind, optionally as a window (`over` = its OVER
    clause), exact and fast: counts and day numbers are summed as doubles (exact below
    2^53), money as integer cents in doubles, and cast back; on DuckDB a sum of INTEGER
    or DECIMAL(18,2) is a 128-bit sum, several times slower in the many running sums of
    int_feature_state. Decay terms stay DECIMAL(38,10) (rules §7a, *How exact*). -#}
{% macro delta_sum(expr, kind, over='') -%}
{%- if kind == 'int' -%}
cast(sum(cast({{ expr }} as {{ t_double() }})) {{ over }} as {{ t_int() }})
{%- elif kind == 'money' -%}
cast(sum(cast({{ expr }} * 100 as {{ t_double() }})) {{ over }} / 100 as {{ t_money() }})
{%- else -%}
cast(sum({{ expr }}) {{ over }} as {{ delta_type(kind) }})
{%- endif -%}
{%- endmacro %}

{#- The sums of int_feature_state. `state_sums(cols)` is the select list of its per-day
    sums of the delta columns (grouped by depot and day, named d_*), `state_sums(cols,
    over)` the select list of the running sums of those (a window, named r_*), and
    `running_sum(alias, name, kind, cols)` reads the running sum of delta column `name`
    (`cols`: the same list as given to state_sums, which fixes the packs).

    On DuckDB every sum is its own aggregate (in the window about 0.06 s per column at
    10k depots, and there are 34; docs/performance.md, section 9), so the 'int' columns
    are summed four at a time: packed into the 32-bit fields of one HUGEINT (v0 + v1 *
    2^32 + v2 * 2^64 + v3 * 2^96), a sum of packs is the pack of the sums, exactly. A
    day's delta may be negative, but each running sum is a count of active events or a
    day number, in [0, 2^31), so no field borrows from or carries into its neighbour, and
    reading a field back casts it to INTEGER, which fails loudly for a value outside
    that range instead of returning a wrong one. A NULL delta counts as 0 in its pack (a
    sum skips NULLs; the state is coalesced to 0 anyway). Other engines (SQL Server) sum
    each column on its own. -#}
{% macro state_sums(cols, over='') %}{{ return(adapter.dispatch('state_sums')(cols, over)) }}{% endmacro %}

{% macro default__state_sums(cols, over='') -%}
    {%- for name, kind in cols %}
        {%- if not loop.first %},{% endif %}
        {{ delta_sum(name, kind, over) }} as {{ name | replace('d_', 'r_', 1) if over else name }}
    {%- endfor %}
{%- endmacro %}

{% macro sqlserver__state_sums(cols, over='') %}{{ return(default__state_sums(cols, over)) }}{% endmacro %}

{% macro duckdb__state_sums(cols, over='') -%}
    {%- for pack in int_packs(cols) %}
        {%- if not loop.first %},{% endif %}
        {%- if over %}
        sum(d_pack_{{ loop.index0 }}) {{ over }} as r_pack_{{ loop.index0 }}
        {%- else %}
        sum({% for name in pack %}{% if not loop.first %} + {% endif %}cast(coalesce({{ name }}, 0) as hugeint){% if loop.index0 > 0 %} * cast({{ 2 ** (32 * loop.index0) }} as hugeint){% endif %}{% endfor %}) as d_pack_{{ loop.index0 }}
        {%- endif %}
    {%- endfor %}
    {%- for name, kind in cols if kind != 'int' %},
        {{ delta_sum(name, kind, over) }} as {{ name | replace('d_', 'r_', 1) if over else name }}
    {%- endfor %}
{%- endmacro %}

{% macro running_sum(alias, name, kind, cols) %}{{ return(adapter.dispatch('running_sum')(alias, name, kind, cols)) }}{% endmacro %}

{% macro default__running_sum(alias, name, kind, cols) -%}
    {{ alias }}.{{ name | replace('d_', 'r_', 1) }}
{%- endmacro %}

{% macro sqlserver__running_sum(alias, name, kind, cols) %}{{ return(default__running_sum(alias, name, kind, cols)) }}{% endmacro %}

{% macro duckdb__running_sum(alias, name, kind, cols) -%}
    {%- if kind == 'int' -%}
        {%- for pack in int_packs(cols) -%}
            {%- if name in pack -%}
                {%- set slot = pack.index(name) -%}
                cast(({{ alias }}.r_pack_{{ loop.index0 }}{% if slot > 0 %} >> {{ 32 * slot }}{% endif %}) & cast(4294967295 as hugeint) as {{ t_int() }})
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ alias }}.{{ name | replace('d_', 'r_', 1) }}
    {%- endif -%}
{%- endmacro %}

{#- The 'int' columns of `cols` in order, in groups of four: [[name, ...], ...]. -#}
{% macro int_packs(cols) %}
    {%- set names = [] -%}
    {%- for name, kind in cols if kind == 'int' -%}{%- do names.append(name) -%}{%- endfor -%}
    {%- set packs = [] -%}
    {%- for i in range(0, names | length, 4) -%}{%- do packs.append(names[i:i + 4]) -%}{%- endfor -%}
    {{ return(packs) }}
{% endmacro %}

{#- The select list of one delta row of the family `model`: Depot_Number, Delta_Date, then
    the family's delta columns, taking `values[name]` (an SQL expression) or 0. -#}
{% macro delta_select_list(depot, delta_date, values, model) -%}
    {{ depot }} as Depot_Number,
    {{ delta_date }} as Delta_Date
    {%- for name, kind in family_delta_columns(model) %},
    cast({{ values.get(name, '0') }} as {{ delta_type(kind) }}) as {{ name }}
    {%- endfor %}
{%- endmacro %}

{#- The final select of a family model: the deltas of CTE `deltas` summed per (depot, day),
    with the depot's signature; a depot of `signatures` without any delta gets one row
    with Delta_Date NULL and zeros, so that its stored signature shows it is up to date
    (fa_agg_buy never reads that row). On an incremental run only the changed depots. -#}
{% macro family_final(model, incremental) -%}
select
    s.Depot_Number,
    d.Delta_Date
    {%- for name, kind in family_delta_columns(model) %},
    coalesce({{ delta_sum('d.' ~ name, kind) }}, 0) as {{ name }}
    {%- endfor %},
    s.Sig_Rows,
    s.Sig_Hash
{{ signature_depots_from('deltas', 'd', incremental) }}
group by s.Depot_Number, d.Delta_Date, s.Sig_Rows, s.Sig_Hash
{%- endmacro %}

{#- The first day a transaction of day `date_col` no longer counts for a window of n days
    (rules §7): the window's end, or its cancellation when that comes first. -#}
{% macro active_end(date_col, n) -%}
case
    when cancelled_from is not null and cancelled_from < {{ add_days(date_col, n) }}
        then cancelled_from else {{ add_days(date_col, n) }}
end
{%- endmacro %}

{#- A recency from the running sums of a recency pair (int_deltas_recency): D minus the
    larger of the two day numbers; NULL when both are 0 (no active event). -#}
{% macro recency_days(score_date, unc, canc) -%}
cast(case
    when {{ unc }} >= {{ canc }} and {{ unc }} > 0 then {{ day_number(score_date) }} - {{ unc }}
    when {{ canc }} > 0 then {{ day_number(score_date) }} - {{ canc }}
end as {{ t_int() }})
{%- endmacro %}

{#- Deposit_Decay on day D from the running sums of d_decay_even / d_decay_odd
    (int_deltas_booking_windows): each is weighted by 2^(-(D - the start of the latest
    block of its parity on or before D) / 10); even blocks start at day numbers
    0 mod 256, odd ones at 128 mod 256. -#}
{% macro deposit_decay(score_date, even, odd) -%}
cast({{ even }} as {{ t_double() }})
    * power(cast(2 as {{ t_double() }}), -cast({{ day_number(score_date) }} % 256 as {{ t_double() }}) / 10)
+ cast({{ odd }} as {{ t_double() }})
    * power(cast(2 as {{ t_double() }}), -cast(({{ day_number(score_date) }} + 128) % 256 as {{ t_double() }}) / 10)
{%- endmacro %}
