{#- Keep the newest version of each key of a raw table: highest order column(s) first.
    Portable (window function + filter, no QUALIFY). Used only by staging models. -#}
{% macro newest_version(relation, key_columns, order_by) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by {{ order_by }}
            ) as _version_rank
        from {{ relation }}
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
        {%- do raw_keys.append('raw_rows.' ~ k) -%}
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
