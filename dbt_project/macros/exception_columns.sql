{#- The select list of one fct_exceptions row: the key columns a code fills (key_columns of
    the seed exception_codes), null elsewhere, in one fixed order and type. -#}
{% macro exception_columns(code, occurred_at, detail, event_id=none, line_no=none,
        item_id=none, user_id=none, related_user_id=none, facility_id=none,
        transfer_id=none) -%}
    cast('{{ code }}' as {{ dbt.type_string() }}) as code,
    cast({{ event_id if event_id is not none else 'null' }} as {{ dbt.type_string() }}) as event_id,
    cast({{ line_no if line_no is not none else 'null' }} as {{ dbt.type_bigint() }}) as line_no,
    cast({{ item_id if item_id is not none else 'null' }} as {{ dbt.type_string() }}) as item_id,
    cast({{ user_id if user_id is not none else 'null' }} as {{ dbt.type_string() }}) as user_id,
    cast({{ related_user_id if related_user_id is not none else 'null' }} as {{ dbt.type_string() }})
        as related_user_id,
    cast({{ facility_id if facility_id is not none else 'null' }} as {{ dbt.type_string() }})
        as facility_id,
    cast({{ transfer_id if transfer_id is not none else 'null' }} as {{ dbt.type_string() }})
        as transfer_id,
    cast({{ occurred_at }} as {{ dbt.type_timestamp() }}) as occurred_at,
    {{ detail }} as detail
{%- endmacro %}


{#- Plain text of a value for a detail sentence; '(none)' when it is empty. -#}
{% macro txt(expression) -%}
    coalesce(cast({{ expression }} as {{ dbt.type_string() }}), '(none)')
{%- endmacro %}


{#- A detail sentence from literal text pieces and expressions: strings starting with '='
    are expressions, others literal text. -#}
{% macro sentence(parts) -%}
    {%- set rendered = [] -%}
    {%- for part in parts -%}
        {%- if part.startswith('=') -%}
            {%- do rendered.append(txt(part[1:])) -%}
        {%- else -%}
            {%- do rendered.append("'" ~ part | replace("'", "''") ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.concat(rendered) }}
{%- endmacro %}


{#- Surrogate key of an exception row (select list of exception_columns): a hash of its code,
    key columns, detail and instant. -#}
{% macro exception_id() -%}
    {{ dbt.hash(dbt.concat([
        "code", "'|'", "coalesce(event_id, '')", "'|'",
        "coalesce(cast(line_no as " ~ dbt.type_string() ~ "), '')", "'|'",
        "coalesce(item_id, '')", "'|'", "coalesce(user_id, '')", "'|'",
        "coalesce(related_user_id, '')", "'|'", "coalesce(facility_id, '')", "'|'",
        "coalesce(transfer_id, '')", "'|'", "coalesce(detail, '')", "'|'",
        "coalesce(cast(occurred_at as " ~ dbt.type_string() ~ "), '')"])) }}
{%- endmacro %}
