{#-
  What the Spark engine needs beyond the portable models (`custodia build --engine spark`,
  docs/architecture.md "Engines"). Every macro here is a no-op or the default on DuckDB.
-#}

{#- on-run-start: make the sources readable. On DuckDB ingestion wrote raw.* (and audit.*)
    into the warehouse itself; on Spark each source table is a table over the Parquet files
    `custodia build --engine spark` wrote under $CUSTODIA_SPARK_RAW/<schema>/<table>/. -#}
{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources', 'custodia')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {%- if execute -%}
        {%- set location = env_var('CUSTODIA_SPARK_RAW', '') -%}
        {%- if not location -%}
            {{ exceptions.raise_compiler_error(
                'CUSTODIA_SPARK_RAW is not set: the Spark target reads the raw rows from '
                ~ 'Parquet files that `custodia build --engine spark` writes') }}
        {%- endif -%}
        {%- set schemas = [] -%}
        {%- for source in graph.sources.values() -%}
            {%- if source.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ source.schema) -%}
                {%- do schemas.append(source.schema) -%}
            {%- endif -%}
            {%- do run_query('create table if not exists ' ~ source.schema ~ '.'
                ~ source.identifier ~ " using parquet location '" ~ location ~ '/'
                ~ source.schema ~ '/' ~ source.identifier ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}


{#- The contracts name DuckDB types (docs/architecture.md): Spark spells `varchar` `string`
    (it requires a length for varchar); the others (bigint, boolean, date, decimal(p,s),
    timestamp: wall-clock, spark.sql.timestampType=TIMESTAMP_NTZ) are the same words. This is
    the one type mapping: contract checks (get_empty_schema_sql) and unit test fixtures cast
    through dbt's `cast`. -#}
{% macro spark_type(data_type) -%}
    {%- set normalized = data_type | trim | lower -%}
    {%- if normalized in ('varchar', 'text', 'string') or normalized.startswith('varchar(') -%}
        string
    {%- else -%}
        {{ data_type }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type(type) }})
{%- endmacro %}


{#- On Spark an incremental model is built whole, as a table: the engine's Parquet tables have
    no DELETE, which the item-grained models' pre-hook and the staging models' delete+insert
    need, and each Spark build writes a fresh warehouse directory anyway (docs/benchmarks.md
    measures why a full Spark build is the price to pay). `is_incremental()` is then false, so
    the models derive everything, exactly as on `--full-refresh`. -#}
{% materialization incremental, adapter='spark' -%}
    {{ return(materialization_table_spark()) }}
{%- endmaterialization %}

{#- On Spark a view is stored too: the DuckDB file reads the public models from their Parquet
    files (a Spark view lives only in the session's catalog), and a stored staging table spares
    re-reading the raw rows for each model that reads it. -#}
{% materialization view, adapter='spark' -%}
    {{ return(materialization_table_spark()) }}
{%- endmaterialization %}


{#- Seeds on Spark: dbt-spark's loader binds values into the SQL unescaped, so a quote in a
    seed's text (the anomaly descriptions have some) breaks it. The same insert, with each
    value a Spark string literal (backslash escapes) cast to the column's type. -#}
{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(col_name,
            adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set rows = [] -%}
    {%- for row in agate_table.rows -%}
        {%- set values = [] -%}
        {%- for value in row -%}
            {%- if value is none -%}
                {%- do values.append('cast(null as ' ~ types[loop.index0] ~ ')') -%}
            {%- else -%}
                {%- do values.append("cast('" ~ (value | string | replace('\\', '\\\\')
                    | replace("'", "\\'")) ~ "' as " ~ types[loop.index0] ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do rows.append('(' ~ values | join(', ') ~ ')') -%}
    {%- endfor -%}
    {%- set sql -%}
        insert into {{ this.render() }} values {{ rows | join(',\n') }}
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {{ return(sql) }}
{%- endmacro %}


{#- dbt-spark's dateadd goes through unix seconds and to_timestamp, which shifts a wall-clock
    (TIMESTAMP_NTZ) instant; Spark's own timestampadd keeps the type and the clock. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}
