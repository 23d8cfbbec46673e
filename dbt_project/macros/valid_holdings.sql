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
