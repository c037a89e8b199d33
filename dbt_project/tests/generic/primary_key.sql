{#- Primary key of a model: every key column is not null and the combination is unique.
    Returns the offending rows (null keys, and keys present more than once). -#}
{% test primary_key(model, columns) %}

with

keyed as (

    select {{ columns | join(', ') }}
    from {{ model }}

),

null_keys as (

    select {{ columns | join(', ') }}, 1 as occurrences
    from keyed
    where {% for column in columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}

),

duplicate_keys as (

    select {{ columns | join(', ') }}, count(*) as occurrences
    from keyed
    group by {{ columns | join(', ') }}
    having count(*) > 1

),

final as (

    select * from null_keys
    union all
    select * from duplicate_keys

)

select * from final

{% endtest %}
