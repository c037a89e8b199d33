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
