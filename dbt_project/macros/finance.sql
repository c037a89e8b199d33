{#- Helpers of the finance marts (price variance). -#}

{#- An 8-byte floating-point type (DuckDB `double`; dbt.type_float() is a 4-byte `float` on
    DuckDB). Spark and most engines spell it `double` too. -#}
{% macro double_type() -%}
    {{ return(adapter.dispatch('double_type', 'custodia')()) }}
{%- endmacro %}

{% macro default__double_type() -%}
    double
{%- endmacro %}

{% macro postgres__double_type() -%}
    double precision
{%- endmacro %}


{#- The end of time for interval arithmetic (an open valid_to while merging intervals);
    never published: marts turn it back into null. -#}
{% macro open_end() -%}
    cast('9999-12-31 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}
