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
