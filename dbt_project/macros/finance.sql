{#- Helpers of the finance marts (price variance). -#}

{#- The end of time for interval arithmetic (an open valid_to while merging intervals);
    never published: marts turn it back into null. -#}
{% macro open_end() -%}
    cast('9999-12-31 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}
