{#- Each exception row fills exactly one of the sets of key columns its code lists in the seed
    exception_codes (key_columns: columns comma-separated, one set per kind of record, ' | '
    between sets); every other key column is null. Returns the rows that do not, and rows of a
    code the seed does not list. -#}
{{ config(meta={'dagster': {'ref': {'name': 'fct_exceptions'}}}) }}
{%- set filled_parts = [] -%}
{%- for column in ['event_id', 'line_no', 'item_id', 'user_id', 'related_user_id',
        'facility_id', 'transfer_id'] -%}
    {%- do filled_parts.append(
        "case when " ~ column ~ " is not null then '" ~ column ~ ",' else '' end") -%}
{%- endfor %}
with

exceptions as (

    select * from {{ ref('fct_exceptions') }}

),

exception_codes as (

    select * from {{ ref('exception_codes') }}

),

filled as (

    -- the key columns a row fills, as 'event_id,line_no,' (each name followed by a comma)
    select
        exceptions.*,
        {{ dbt.concat(filled_parts) }} as filled_columns
    from exceptions

),

conventions as (

    -- each code's sets as '|event_id,line_no,|item_id,transfer_id,|'
    select
        code,
        {{ dbt.concat(["'|'",
            dbt.replace(dbt.replace('key_columns', "' '", "''"), "'|'", "',|'"),
            "',|'"]) }} as key_column_sets
    from exception_codes

),

final as (

    select
        filled.*,
        conventions.key_column_sets
    from filled
    left join conventions
        on filled.code = conventions.code
    where
        conventions.code is null
        or {{ dbt.position(dbt.concat(["'|'", 'filled.filled_columns', "'|'"]),
            'conventions.key_column_sets') }} = 0

)

select * from final
