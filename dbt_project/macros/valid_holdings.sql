{#- The valid cd_Saldo / cd_Bestand rows of some counting B files (rules §4, §6), shared by
    int_holdings (the as-of files of the run) and int_holding_firsts (the new B files).
    Those are counting B files, so only the row-level classes (dq_reason) and the
    duplicate classes apply: identical copies collapse into one (duplicate_row), a key with
    two different rows in one file is a conflicting_duplicate and has no valid row. The
    rows of a key are all identical exactly when the minimum and maximum of every other
    column agree (valid rows have no NULL amounts), so one grouping by key decides both.
    `files` names a relation or CTE with a Datei_ID column; filtering on it first keeps a
    one-day run from classifying all history. -#}
{% macro valid_saldo_rows(saldo, files) -%}
    select s.Datei_ID, s.Depot_Number, min(s.Cash_EUR) as Cash_EUR
    from {{ saldo }} as s
    inner join {{ files }} as f
        on f.Datei_ID = s.Datei_ID
    where s.dq_reason is null
    group by s.Datei_ID, s.Depot_Number
    having min(s.Cash_EUR) = max(s.Cash_EUR)
{%- endmacro %}

{% macro valid_position_rows(bestand, files) -%}
    select
        b.Datei_ID,
        b.Depot_Number,
        b.ISIN,
        min(b.Units) as Units,
        min(b.Market_Value_EUR) as Market_Value_EUR
    from {{ bestand }} as b
    inner join {{ files }} as f
        on f.Datei_ID = b.Datei_ID
    where b.dq_reason is null
    group by b.Datei_ID, b.Depot_Number, b.ISIN
    having min(b.Units) = max(b.Units) and min(b.Market_Value_EUR) = max(b.Market_Value_EUR)
{%- endmacro %}

{#- CTEs `<name>_first` (keys..., First_Date): per key (e.g. Depot_Number, ISIN) the earliest
    Datei_Datum of a file in `files` (Datei_ID, Datei_Datum; one counting B file per day)
    in which the key has a valid row (as valid_*_rows: its rows there all identical)
    satisfying `held` (a condition on alias b; `held_group` the same on the key's rows of
    one file, e.g. min(b.Units) > 0). Without grouping every row by file and
    key: the earliest day with a row meeting `held` (dq_reason NULL) is a candidate, one
    check of the candidate file's rows of that key confirms it; the few keys whose
    candidate fails (a conflicting duplicate on that day) are classified over all files.
    Each CTE reads `rows_model` once (DuckDB materialises a CTE read twice). -#}
{% macro first_valid_dates(name, rows_model, files, keys, values, held, held_group) -%}
{%- set on_keys -%}{% for k in keys %}{% if not loop.first %} and {% endif %}x.{{ k }} = b.{{ k }}{% endfor %}{%- endset -%}
{%- set same -%}{% for v in values %}{% if not loop.first %} and {% endif %}min(b.{{ v }}) = max(b.{{ v }}){% endfor %}{%- endset -%}
{{ name }}_candidates as (

    select {% for k in keys %}b.{{ k }}, {% endfor %}min(f.Datei_Datum) as First_Date
    from {{ ref(rows_model) }} as b
    inner join {{ files }} as f
        on f.Datei_ID = b.Datei_ID
    where b.dq_reason is null and {{ held }}
    group by {% for k in keys %}{% if not loop.first %}, {% endif %}b.{{ k }}{% endfor %}

),

{{ name }}_confirmed as (

    select {% for k in keys %}x.{{ k }}, {% endfor %}x.First_Date
    from {{ ref(rows_model) }} as b
    inner join {{ files }} as f
        on f.Datei_ID = b.Datei_ID
    inner join {{ name }}_candidates as x
        on x.First_Date = f.Datei_Datum
        and {{ on_keys }}
    where b.dq_reason is null
    group by {% for k in keys %}x.{{ k }}, {% endfor %}x.First_Date
    having {{ same }}

),

{{ name }}_failed_rows as (

    select b.*
    from {{ ref(rows_model) }} as b
    inner join {{ name }}_candidates as x
        on {{ on_keys }}
    where not exists (
        select 1 from {{ name }}_confirmed as c
        where {% for k in keys %}{% if not loop.first %} and {% endif %}c.{{ k }} = x.{{ k }}{% endfor %}
    )

),

{{ name }}_failed_valid as (

    select {% for k in keys %}b.{{ k }}, {% endfor %}min(f.Datei_Datum) as First_Date
    from {{ name }}_failed_rows as b
    inner join {{ files }} as f
        on f.Datei_ID = b.Datei_ID
    where b.dq_reason is null
    group by b.Datei_ID, {% for k in keys %}b.{{ k }}{% if not loop.last %}, {% endif %}{% endfor %}
    having {{ same }} and {{ held_group }}

),

{{ name }}_first as (

    select {% for k in keys %}{{ k }}, {% endfor %}First_Date from {{ name }}_confirmed

    union all

    select {% for k in keys %}{{ k }}, {% endfor %}min(First_Date) as First_Date
    from {{ name }}_failed_valid
    group by {% for k in keys %}{% if not loop.first %}, {% endif %}{{ k }}{% endfor %}

)
{%- endmacro %}
