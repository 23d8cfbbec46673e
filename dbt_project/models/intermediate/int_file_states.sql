-- The current state of every file that has rows in a source table (rules §1): its row
-- count per table, file status ('unknown_file' when the Datei_ID is not in cd_Datei),
-- type and day. The rows without a Datei_ID form one more "file" with File_Key -1.
-- The incremental models compare it with what they stored: int_holdings_file_quality
-- counts a cd_Saldo/cd_Bestand file again, int_transaction_rows classifies the
-- transaction numbers of a cd_Order/cd_Buchung file again, when its state changed.
-- Counting rows per Datei_ID reads one integer column of the source only.
{#- the four source tables, each by its staging model -#}
{%- set tables = [
    ('cd_Saldo', 'stg_provisionen__saldo'),
    ('cd_Bestand', 'stg_provisionen__bestand'),
    ('cd_Order', 'stg_provisionen__order'),
    ('cd_Buchung', 'stg_provisionen__buchung'),
] %}
with files as (

    select * from {{ ref('int_files') }}

),

-- rows per file and table
source_files as (
{% for table, model in tables %}
    select coalesce(Datei_ID, -1) as File_Key, '{{ table }}' as Source_Table, count(*) as Source_Rows
    from {{ ref(model) }}
    group by coalesce(Datei_ID, -1)
{% if not loop.last %}
    union all
{% endif %}
{%- endfor %}
)

select
    s.File_Key,
    s.Source_Table,
    s.Source_Rows,
    coalesce(f.file_status, 'unknown_file') as File_Status,
    f.Datei_Typ,
    f.Datei_Datum
from source_files as s
left join files as f
    on f.Datei_ID = s.File_Key
