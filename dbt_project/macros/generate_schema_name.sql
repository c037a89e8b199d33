{#- Schemas are literal: a model configured with +schema: marts lands in schema `marts`
    (not `<target>_marts`), so the dashboard and analysts read marts.* on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
