{#- DuckDB-only syntax lives here, behind adapter.dispatch, with a portable default. -#}

{#- First day of the month of a timestamp, as a date. -#}
{% macro month_start(expression) -%}
    {{ return(adapter.dispatch('month_start', 'custodia')(expression)) }}
{%- endmacro %}

{% macro default__month_start(expression) -%}
    cast({{ dbt.date_trunc('month', expression) }} as date)
{%- endmacro %}

{% macro duckdb__month_start(expression) -%}
    cast(date_trunc('month', {{ expression }}) as date)
{%- endmacro %}


{#- The money type of the contract (decimal(18,2)). -#}
{% macro money_type() -%}
    {{ return(adapter.dispatch('money_type', 'custodia')()) }}
{%- endmacro %}

{% macro default__money_type() -%}
    decimal(18, 2)
{%- endmacro %}


{#- A percentage to 4 decimals: a decimal, not a double, so that every engine stores the same
    figure (a double rounded by DuckDB and by Spark can differ in its last bit). -#}
{% macro percent_type() -%}
    decimal(18, 4)
{%- endmacro %}


{#- Round a money expression to cents and cast it to the money type. -#}
{% macro to_money(expression) -%}
    cast(round({{ expression }}, 2) as {{ money_type() }})
{%- endmacro %}


{#- Comma-separated, ordered list of distinct values (for readable report columns). -#}
{% macro ordered_id_list(expression) -%}
    {{ return(adapter.dispatch('ordered_id_list', 'custodia')(expression)) }}
{%- endmacro %}

{% macro default__ordered_id_list(expression) -%}
    {{ dbt.listagg(expression, "', '", "order by " ~ expression) }}
{%- endmacro %}

{% macro duckdb__ordered_id_list(expression) -%}
    string_agg(distinct {{ expression }}, ', ' order by {{ expression }})
{%- endmacro %}

{% macro spark__ordered_id_list(expression) -%}
    array_join(array_sort(collect_set({{ expression }})), ', ')
{%- endmacro %}
