{#- A numeric column never goes below zero. -#}
{% test non_negative(model, column_name) %}

with

final as (

    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0

)

select * from final

{% endtest %}
