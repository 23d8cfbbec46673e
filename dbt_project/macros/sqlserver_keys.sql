{#- Keys of the output tables on SQL Server (docs/rules.md §10: clustered PK on (Score_Date, Depot_Number)).

    Used as an after-commit post-hook (dbt_project.yml, marts): by then dbt-sqlserver has
    dropped the backup table of a rebuild, so the constraint name PK_<table> is free again
    (constraint names are unique per schema). dbt-sqlserver builds tables with SELECT INTO,
    which leaves every column nullable; the hook makes the key columns NOT NULL keeping
    their type and collation as built (read from sys.columns, so a type change in the
    model cannot be truncated by a hard-coded one, and Depot_Number keeps the source's
    collation: ALTER COLUMN without COLLATE would give it the FA database's default, and
    joins to the other tables' Depot_Number would fail with Msg 468 when the two databases'
    collations differ), then adds the clustered primary key. Guarded: a no-op
    when the table already has a primary key (every incremental run after the first).
    Both DDL statements run through sp_executesql so they are compiled after the columns
    changed. The marts set as_columnstore: false, so no clustered columnstore index takes
    the table's one clustered slot.

    Fabric Warehouse (dbt-fabric): no clustered index of any kind and no enforced key:
    PRIMARY KEY is only NONCLUSTERED ... NOT ENFORCED (metadata for the optimizer and
    readers; uniqueness stays the unique-combination data test's, as on DuckDB), and no
    ALTER COLUMN, so the key columns keep the nullability their CTAS gave them.

    DuckDB: nothing (no statement); the grain is guarded by the unique-combination data test. -#}
{% macro primary_key(columns) %}{{ return(adapter.dispatch('primary_key')(columns)) }}{% endmacro %}

{% macro default__primary_key(columns) %}{% endmacro %}

{#- The guard of both T-SQL forms (every name checked first): the table has no primary key yet. -#}
{% macro no_primary_key_yet(columns) -%}
    {%- for c in columns -%}
        {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', c) -%}
            {{ exceptions.raise_compiler_error("primary_key: not a column name: " ~ c) }}
        {%- endif -%}
    {%- endfor -%}
if not exists (
    select 1 from sys.key_constraints
    where parent_object_id = object_id('{{ this.schema ~ '.' ~ this.identifier }}') and type = 'PK'
)
{%- endmacro %}

{% macro sqlserver__primary_key(columns) -%}
    {%- set table = '[' ~ this.schema ~ '].[' ~ this.identifier ~ ']' -%}
    {%- set object_name = this.schema ~ '.' ~ this.identifier -%}
    {%- set key_list = '[' ~ (columns | join('], [')) ~ ']' -%}
    {%- set name_list = "'" ~ (columns | join("', '")) ~ "'" -%}
{{ no_primary_key_yet(columns) }}
begin
    declare @not_null nvarchar(max) = N'';
    select @not_null = @not_null
        + N'alter table {{ table }} alter column ' + quotename(c.name) + N' ' + type_name(c.user_type_id)
        + case
            when type_name(c.user_type_id) in ('varchar', 'char', 'varbinary', 'binary', 'nvarchar', 'nchar')
                then N'(' + case
                    when c.max_length = -1 then N'max'
                    else cast(columnproperty(c.object_id, c.name, 'CharMaxLen') as nvarchar(10))
                end + N')'
            when type_name(c.user_type_id) in ('decimal', 'numeric')
                then N'(' + cast(c.precision as nvarchar(10)) + N', ' + cast(c.scale as nvarchar(10)) + N')'
            when type_name(c.user_type_id) in ('datetime2', 'time', 'datetimeoffset')
                then N'(' + cast(c.scale as nvarchar(10)) + N')'
            else N''
          end
        -- keep the column's collation (NULL for non-character columns): without COLLATE it
        -- would take the FA database's default and no longer compare with the source's
        + case when c.collation_name is null then N'' else N' collate ' + c.collation_name end
        + N' not null; '
    from sys.columns as c
    where c.object_id = object_id('{{ object_name }}')
      and c.is_nullable = 1
      and c.name in ({{ name_list }});
    if len(@not_null) > 0
        exec sp_executesql @not_null;
    exec sp_executesql N'alter table {{ table }} add constraint [PK_{{ this.identifier }}] primary key clustered ({{ key_list }})';
end
{%- endmacro %}

{% macro fabric__primary_key(columns) -%}
{{ no_primary_key_yet(columns) }}
    alter table [{{ this.schema }}].[{{ this.identifier }}] add constraint [PK_{{ this.identifier }}]
        primary key nonclustered ([{{ columns | join('], [') }}]) not enforced
{%- endmacro %}
