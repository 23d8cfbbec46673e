{#- The valid cd_Saldo / cd_Bestand rows of some counting B files (rules §4, §6), shared by
    int_holdings (the as-of files of the run) and int_holding_firsts (the new B files).
    The rows of those files are only classified for the duplicate classes here (counting
    B files: the file classes do not apply; dq_reason holds the row-level class): identical
    copies collapse into one (duplicate_row), a key with two different rows in one file is
    a conflicting_duplicate and has no valid row. `files` names a relation or CTE with a
    Datei_ID column; filtering on it first keeps a one-day run from classifying all
    history. -#}
{% macro valid_saldo_rows(saldo, files) -%}
    select Datei_ID, Depot_Number, min(Cash_EUR) as Cash_EUR
    from (
        select s.Datei_ID, s.Depot_Number, s.Cash_EUR
        from {{ saldo }} as s
        inner join {{ files }} as f
            on f.Datei_ID = s.Datei_ID
        where s.dq_reason is null
        group by s.Datei_ID, s.Depot_Number, s.Cash_EUR
    ) as distinct_rows
    group by Datei_ID, Depot_Number
    having count(*) = 1
{%- endmacro %}

{% macro valid_position_rows(bestand, files) -%}
    select
        Datei_ID,
        Depot_Number,
        ISIN,
        min(Units) as Units,
        min(Market_Value_EUR) as Market_Value_EUR
    from (
        select b.Datei_ID, b.Depot_Number, b.ISIN, b.Units, b.Market_Value_EUR
        from {{ bestand }} as b
        inner join {{ files }} as f
            on f.Datei_ID = b.Datei_ID
        where b.dq_reason is null
        group by b.Datei_ID, b.Depot_Number, b.ISIN, b.Units, b.Market_Value_EUR
    ) as distinct_rows
    group by Datei_ID, Depot_Number, ISIN
    having count(*) = 1
{%- endmacro %}
