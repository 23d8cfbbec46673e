{#- The valid cd_Saldo / cd_Bestand rows of some counting B files (rules §4, §6), shared by
    int_holdings (the as-of files of the run) and int_holding_firsts (the new B files).
    Those are counting B files, so only the row-level classes (dq_reason) and the
    duplicate classes apply: identical copies collapse into one (duplicate_row), a key with
    two different rows in one file is a conflicting_duplicate and has no valid row.

    Grouping every row by its key only to find the few keys that occur twice cost about
    three quarters of the read (10k depots: 1.9 s of 2.5 s per backfill chunk;
    docs/performance.md, section 9). int_holdings_file_quality has already counted, per
    file, the duplicate_row and conflicting_duplicate rows. In a file whose counts show
    neither, every key has one row, and its rows with dq_reason NULL are the valid rows as
    they are; only the other files (a handful, and any file without counts yet) are
    grouped by key: a key's rows are identical exactly when the minimum and maximum of
    every other column agree (valid rows have no NULL amounts).
    `rows_model`: the staging model, read here by ref() in each branch (a CTE read twice
    would be materialised in full by DuckDB); `files`: a relation or CTE with a Datei_ID
    column, filtered first so that a one-day run does not read all history. -#}
{% macro valid_saldo_rows(rows_model, files, file_columns=[]) -%}
    {{ valid_rows(rows_model, files, file_columns, 'cd_Saldo', ['Depot_Number'], ['Cash_EUR']) }}
{%- endmacro %}

{% macro valid_position_rows(rows_model, files, file_columns=[]) -%}
    {{ valid_rows(rows_model, files, file_columns, 'cd_Bestand', ['Depot_Number', 'ISIN'], ['Units', 'Market_Value_EUR']) }}
{%- endmacro %}

{#- `file_columns`: columns of `files` to carry along (e.g. Datei_Datum). -#}
{% macro valid_rows(rows_model, files, file_columns, source_table, keys, values) -%}
    {%- set single = single_row_files(source_table) %}
    select b.Datei_ID{% for c in file_columns %}, f.{{ c }}{% endfor %}{% for c in keys + values %}, b.{{ c }}{% endfor %}
    from {{ ref(rows_model) }} as b
    inner join {{ files }} as f
        on f.Datei_ID = b.Datei_ID
    where b.dq_reason is null
        and b.Datei_ID in ({{ single }})

    union all

    select b.Datei_ID{% for c in file_columns %}, f.{{ c }}{% endfor %}{% for k in keys %}, b.{{ k }}{% endfor %}{% for v in values %}, min(b.{{ v }}) as {{ v }}{% endfor %}
    from {{ ref(rows_model) }} as b
    inner join {{ files }} as f
        on f.Datei_ID = b.Datei_ID
    where b.dq_reason is null
        and b.Datei_ID not in ({{ single }})
    group by b.Datei_ID{% for c in file_columns %}, f.{{ c }}{% endfor %}{% for k in keys %}, b.{{ k }}{% endfor %}
    having {% for v in values %}{% if not loop.first %} and {% endif %}min(b.{{ v }}) = max(b.{{ v }}){% endfor %}
{%- endmacro %}

{#- The files of `source_table` that int_holdings_file_quality has classified and in which
    no row is a duplicate_row or conflicting_duplicate: each key has at most one row there. -#}
{% macro single_row_files(source_table) -%}
select Datei_ID
        from {{ ref('int_holdings_file_quality') }}
        where Source_Table = '{{ source_table }}' and Datei_ID is not null
        group by Datei_ID
        having sum(case when Reason in ('duplicate_row', 'conflicting_duplicate') then Row_Count else 0 end) = 0
{%- endmacro %}

