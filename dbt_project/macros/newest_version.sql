{#- Keep the newest version of each key of a raw table: highest order column(s) first.
    Keys are compared trimmed, as staging exposes them (" U1" and "U1" are one key).
    Portable (window function + filter, no QUALIFY). Most keys are delivered once: those pass
    straight through, and only keys with several versions are ranked, which spares sorting
    every row of the large tables (a third of stg_transfers' time on medium). Used only by
    staging models. -#}
{% macro newest_version(relation, key_columns, order_by) -%}
    {%- set trimmed = [] -%}
    {%- set dup_trimmed = [] -%}
    {%- set matches = [] -%}
    {%- for k in key_columns -%}
        {%- set expr = 'trim(cast(raw_rows.' ~ k ~ ' as ' ~ dbt.type_string() ~ '))' -%}
        {%- do trimmed.append(expr) -%}
        {%- do dup_trimmed.append(expr ~ ' as dup_' ~ k) -%}
        {%- do matches.append(expr ~ ' = repeated.dup_' ~ k) -%}
    {%- endfor -%}
    {#- the keys delivered more than once (DuckDB plans this once for both branches) -#}
    {%- set repeated -%}
        select {{ dup_trimmed | join(', ') }}
        from {{ relation }} as raw_rows
        group by {{ trimmed | join(', ') }}
        having count(*) > 1
    {%- endset %}
    select
        raw_rows.*,
        1 as _version_rank
    from {{ relation }} as raw_rows
    left join ({{ repeated }}) as repeated
        on {{ matches | join(' and ') }}
    where repeated.dup_{{ key_columns[0] }} is null

    union all

    select *
    from (
        select
            raw_rows.*,
            row_number() over (
                partition by {{ trimmed | join(', ') }}
                order by {{ order_by }}
            ) as _version_rank
        from {{ relation }} as raw_rows
        inner join ({{ repeated }}) as repeated
            on {{ matches | join(' and ') }}
    ) as versions
    where _version_rank = 1
{%- endmacro %}


{#- newest_version, incrementally: on a full build (or --full-refresh) exactly newest_version;
    on an incremental run only the keys touched by deliveries newer than the model's latest
    `_file_id` are re-derived, from *every* raw version of those keys, so the result per key is
    the one a full build gives. The model merges them with delete+insert on its unique key
    (the trimmed key columns), so `touched` is matched on trimmed keys too. -#}
{% macro newest_version_incremental(relation, key_columns, order_by) -%}
    {%- set raw_keys = [] -%}
    {%- set touched_keys = [] -%}
    {%- set matches = [] -%}
    {%- for k in key_columns -%}
        {%- set trimmed = 'trim(cast(' ~ k ~ ' as ' ~ dbt.type_string() ~ '))' -%}
        {%- do raw_keys.append(trimmed | replace('cast(', 'cast(raw_rows.')) -%}
        {%- do touched_keys.append(trimmed ~ ' as touched_' ~ k) -%}
        {%- do matches.append(trimmed | replace('cast(', 'cast(raw_rows.') ~ ' = touched.touched_' ~ k) -%}
    {%- endfor -%}
    {%- if this is not none and is_incremental() %}
    select *
    from (
        select
            raw_rows.*,
            row_number() over (
                partition by {{ raw_keys | join(', ') }}
                order by {{ order_by }}
            ) as _version_rank
        from {{ relation }} as raw_rows
        inner join (
            select distinct {{ touched_keys | join(', ') }}
            from {{ relation }}
            where _file_id > (select coalesce(max(_file_id), 0) from {{ this }})
        ) as touched
            on {{ matches | join(' and ') }}
    ) as versions
    where _version_rank = 1
{%- else %}
        {{ newest_version(relation, key_columns, order_by) }}
    {%- endif %}
{%- endmacro %}
