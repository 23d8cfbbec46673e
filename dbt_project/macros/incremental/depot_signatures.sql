{#- Per-depot signatures: how the transaction models and int_feature_deltas, kept between
    runs, find the depots whose inputs changed since they were computed (docs/dbt.md,
    *Incremental design*). Everything downstream of the row tables is per depot, so a run
    recomputes exactly the depots whose signature differs from the one stored with their
    rows, and leaves every other depot's rows as they are.

    A signature is (Sig_Rows, Sig_Hash): a count and a sum of row hashes. Reading them is
    a scan of three narrow columns, not a rebuild. -#}

{#- A row's hash, reduced modulo the prime 1000000007 (30 bits) so that a depot's sum fits
    a BIGINT. Only used to notice change. The guarantee, the same on both engines: a depot
    whose rows changed keeps its signature only if (Sig_Rows, Sig_Hash) collide, i.e. the
    row count is unchanged and the sums of the reduced hashes agree, about 1 in 10^9 per
    changed depot; every column takes part exactly as stored (case and trailing blanks
    included).
    DuckDB: its 64-bit hash() of the columns. SQL Server: the first 4 bytes of
    HASHBYTES('SHA2_256') over the columns as text, each marked so that NULL and '' differ
    and separated so that no value can run into the next; every part gets one explicit
    collation (columns of the source's and of the database's collation must not meet in
    one CONCAT; the bytes hashed do not depend on it). Not CHECKSUM: Microsoft
    documents that it may miss changes, and it follows the collation (under a
    case-insensitive one 'abc' and 'ABC ' have one checksum). Fabric Warehouse: the same
    over varchar under its binary UTF-8 collation (no nvarchar type there, and none of
    SQL Server's collations). -#}
{% macro row_hash(columns) %}{{ return(adapter.dispatch('row_hash')(columns)) }}{% endmacro %}
{% macro default__row_hash(columns) -%}
cast(hash({{ columns | join(', ') }}) % 1000000007 as bigint)
{%- endmacro %}
{% macro sqlserver__row_hash(columns, text='nvarchar(4000)', collation='Latin1_General_100_BIN2', n='N') -%}
(cast(substring(hashbytes('SHA2_256', concat(
    {%- for c in columns %}
    {%- if not loop.first %} {{ n }}'|',{% endif %} coalesce({{ n }}'~' + cast({{ c }} as {{ text }}) collate {{ collation }}, {{ n }}'')
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
)), 1, 4) as bigint) % 1000000007)
{%- endmacro %}
{% macro fabric__row_hash(columns) -%}
    {{ return(sqlserver__row_hash(columns, 'varchar(8000)', 'Latin1_General_100_BIN2_UTF8', '')) }}
{%- endmacro %}

{#- The signature of each depot's rows of one table (cd_Order / cd_Buchung) in the row
    table `rows` (int_transaction_rows), by Signature_Depot: its own rows (any class), and
    the valid cancellation rows of the numbers whose valid original is in the depot (such
    a row may name no depot or another one, and it changes the original's
    cancelled_from). Columns: Depot_Number, Sig_Rows, Sig_Hash. -#}
{% macro row_signatures(rows, source_table) -%}
    select
        Signature_Depot as Depot_Number,
        cast(count(*) as bigint) as Sig_Rows,
        cast(sum(Row_Hash) as bigint) as Sig_Hash
    from {{ rows }}
    where Source_Table = '{{ source_table }}' and Signature_Depot is not null
    group by Signature_Depot
{%- endmacro %}

{#- The signature of each depot over per-depot tables with Sig_Rows / Sig_Hash (each holds
    one signature per depot: the one its rows were computed from), e.g. both transaction
    tables or their signature models. Columns: Depot_Number, Sig_Rows, Sig_Hash. -#}
{% macro depot_signatures(relations) -%}
    select Depot_Number, cast(sum(Sig_Rows) as bigint) as Sig_Rows, cast(sum(Sig_Hash) as bigint) as Sig_Hash
    from (
        {%- for rel in relations %}
        select distinct Depot_Number, Sig_Rows, Sig_Hash from {{ rel }}
        {%- if not loop.last %}

        union all
        {% endif %}
        {%- endfor %}
    ) as parts
    group by Depot_Number
{%- endmacro %}

{#- The depots whose current signature (a relation or CTE with Depot_Number, Sig_Rows,
    Sig_Hash) differs from the one stored with their rows in `stored`, including depots
    that are new or have gone. -#}
{% macro changed_depots(current, stored) -%}
    select coalesce(c.Depot_Number, s.Depot_Number) as Depot_Number
    from {{ current }} as c
    full outer join (
        select Depot_Number, min(Sig_Rows) as Sig_Rows, min(Sig_Hash) as Sig_Hash
        from {{ stored }}
        group by Depot_Number
    ) as s
        on s.Depot_Number = c.Depot_Number
        and s.Sig_Rows = c.Sig_Rows
        and s.Sig_Hash = c.Sig_Hash
    where c.Depot_Number is null or s.Depot_Number is null
{%- endmacro %}

{#- pre_hook of a per-depot incremental model: delete the stored rows of every changed
    depot (the model then computes those depots again). `current_sql` is the SELECT of
    the current signatures; relations are named beside {{ this }} by the caller, since a
    hook rendered on its own has no refs. -#}
{% macro delete_changed_depots(current_sql) %}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where Depot_Number in (
            {{ changed_depots('(' ~ current_sql ~ ')', this) }}
        )
    {%- endif -%}
{% endmacro %}

{#- Relations a model's hooks name beside {{ this }} (same database and schema). A model's
    name gives its table: the model's alias (a fund model's is <model>_<CODE>). -#}
{% macro sibling(identifier) %}
    {%- set ns = namespace(name=identifier) -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == identifier -%}
            {%- set ns.name = node.alias -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(api.Relation.create(database=this.database, schema=this.schema, identifier=ns.name)) }}
{% endmacro %}

{#- The import CTEs of int_order_transactions / int_booking_transactions (one macro, the
    two differ only in their table and final columns), each over the rows of
    int_transaction_rows of source_table (cd_Order / cd_Buchung): row_signatures (per
    depot), originals (the valid originals: of the changed depots only on an incremental
    run), cancellations (earliest counting-file day of a valid cancellation row per
    number). incremental: the model's is_incremental() (called in the model itself, where
    unit tests can override it).
    Each read of the rows is its own CTE, read once: DuckDB materialises a CTE read twice. -#}
{% macro transaction_imports(source_table, incremental) %}
{%- set rows = ref('int_transaction_rows') -%}
row_signatures as (

    {{ row_signatures(rows, source_table) }}

),

{% if incremental -%}
changed as (

    {{ changed_depots('row_signatures', this) }}

),

originals as (

    select *
    from {{ rows }}
    where Source_Table = '{{ source_table }}' and dq_reason is null and is_cancellation = 0
        and Depot_Number in (select Depot_Number from changed)

),
{%- else -%}
originals as (

    select *
    from {{ rows }}
    where Source_Table = '{{ source_table }}' and dq_reason is null and is_cancellation = 0

),
{%- endif %}

cancellation_rows as (

    select Transaction_Number, Datei_Datum
    from {{ rows }}
    where Source_Table = '{{ source_table }}' and dq_reason is null and is_cancellation = 1

),

cancellations as (

    select
        Transaction_Number,
        min(Datei_Datum) as cancelled_from
    from cancellation_rows
    group by Transaction_Number

)
{%- endmacro %}

{#- The import CTEs of a family model, kept between runs per depot: `signatures` (the
    current signature of every depot over `inputs`, read from their signature models), on an
    incremental run `changed` (the depots whose signature differs from the one stored
    with their rows in {{ this }}), and one CTE per input (cte name -> model name) with the
    rows of the changed depots only (all rows on a full build). -#}
{% macro family_imports(inputs, incremental) -%}
signatures as (

    {%- set rels = [] %}
    {%- for model in inputs.values() %}{% do rels.append(ref(signature_model(model))) %}{% endfor %}
    {{ depot_signatures(rels) }}

),
{%- if incremental %}

changed as (

    {{ changed_depots('signatures', this) }}

),
{%- endif %}
{%- for cte, model in inputs.items() %}

{{ cte }} as (

    select * from {{ ref(model) }}
    {%- if incremental %}
    where Depot_Number in (select Depot_Number from changed)
    {%- endif %}

){{ ',' if not loop.last }}
{%- endfor %}
{%- endmacro %}

{#- The from clause of a per-depot kept model's final select: every depot of `signatures`
    (its current signature, s.Sig_Rows / s.Sig_Hash, is stored with its rows) left-joined
    to its rows in CTE `rows_cte` (as `alias`; a depot without rows gets one row of NULLs,
    so the stored signature shows it is up to date); on an incremental run only the
    changed depots. -#}
{% macro signature_depots_from(rows_cte, alias, incremental) -%}
from signatures as s
left join {{ rows_cte }} as {{ alias }}
    on {{ alias }}.Depot_Number = s.Depot_Number
{%- if incremental %}
where s.Depot_Number in (select Depot_Number from changed)
{%- endif %}
{%- endmacro %}

{#- config() pre_hook of a family model over these input models: delete the stored rows
    of the depots whose signature changed (macros/incremental/depot_signatures.sql). -#}
{% macro family_pre_hook(models) -%}
{%- set rels = [] %}
{%- for model in models %}{% do rels.append(sibling(signature_model(model))) %}{% endfor %}
{{- delete_changed_depots(depot_signatures(rels)) }}
{%- endmacro %}

{#- The model holding the current per-depot signatures of a transaction model
    (int_order_transactions -> int_order_signatures, int_booking_transactions ->
    int_booking_signatures): one narrow table read by every per-depot model downstream,
    instead of each scanning the transactions twice. -#}
{% macro signature_model(transactions_model) -%}
    {{ return(transactions_model | replace('_transactions', '_signatures')) }}
{%- endmacro %}
