{#- Point-in-time views (rpt_stock_levels_as_of, fct_facility_stock_access_as_of) read var
    `as_of`: unset, empty or 'now' = the build's reference instant; a date YYYY-MM-DD = the end
    of that day (everything that happened that day applied); a timestamp YYYY-MM-DD HH:MM[:SS]
    = that instant. Anything else stops the build with a message naming the value.
    docs/rules.md, "As of any date". -#}
{% macro as_of_requested() -%}
    {#- outside dbt (sqlfluff's templater has no `exceptions`): lint the default, "now" -#}
    {%- if exceptions is not defined -%}{{ return(none) }}{%- endif -%}
    {%- set raw = var('as_of', none) -%}
    {%- if raw is none -%}{{ return(none) }}{%- endif -%}
    {%- set text = (raw | string) | trim -%}
    {%- if text in ('', 'now', 'None') -%}{{ return(none) }}{%- endif -%}
    {%- set bad = "var as_of=" ~ (text | tojson) ~ " is not a date (YYYY-MM-DD) or a timestamp "
        ~ "(YYYY-MM-DD HH:MM:SS); leave it unset for now" -%}
    {#- YYYY-MM-DD, then optionally [ T]HH:MM[:SS[.ffffff]] (plain string checks, no regex) -#}
    {%- set day_part = text[0:10] -%}
    {%- if text | length < 10 or day_part[4] != '-' or day_part[7] != '-'
        or not (day_part[0:4] ~ day_part[5:7] ~ day_part[8:10]).isdigit() -%}
        {{ exceptions.raise_compiler_error(bad) }}
    {%- endif -%}
    {%- if text | length > 10 -%}
        {%- set clock = text[11:] -%}
        {%- set seconds = clock[6:] -%}
        {%- if text[10] not in (' ', 'T') or clock | length < 5 or clock[2] != ':'
            or not (clock[0:2] ~ clock[3:5]).isdigit()
            or (clock | length > 5 and (clock[5] != ':' or not seconds.replace('.', '', 1).isdigit()))
            or clock[0:2] | int > 23 or clock[3:5] | int > 59 -%}
            {{ exceptions.raise_compiler_error(bad) }}
        {%- endif -%}
    {%- endif -%}
    {%- set year, month, day = day_part[0:4] | int, day_part[5:7] | int, day_part[8:10] | int -%}
    {%- set leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 -%}
    {%- set month_days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- if month < 1 or month > 12 or day < 1 or day > month_days[month - 1] -%}
        {{ exceptions.raise_compiler_error(
            "var as_of=" ~ (text | tojson) ~ " is not a calendar date") }}
    {%- endif -%}
    {%- if text | length == 10 -%}
        {{ return(text ~ ' 23:59:59.999999') }}
    {%- else -%}
        {{ return(day_part ~ ' ' ~ text[11:]) }}
    {%- endif -%}
{%- endmacro %}


{#- The instant a point-in-time view is evaluated at, as a select over int_reference_instant
    (named `reference_instant` in the calling model): the requested instant, or the reference
    instant when none is asked for or a later one is (nothing is known after it). A requested
    instant before the first record in the data stops the build with a clear message. -#}
{% macro as_of_instant(reference_instant) -%}
    {%- set requested = as_of_requested() -%}
    {%- if requested is none -%}
        select as_of from {{ reference_instant }}
    {%- else -%}
        {%- if execute -%}
            {%- set span = run_query(
                "select cast(first_seen_at as " ~ dbt.type_string() ~ "), "
                ~ "cast(as_of as " ~ dbt.type_string() ~ "), "
                ~ "cast('" ~ requested ~ "' as " ~ dbt.type_timestamp() ~ ") < first_seen_at, "
                ~ "cast('" ~ requested ~ "' as " ~ dbt.type_timestamp() ~ ") > as_of "
                ~ "from " ~ ref('int_reference_instant')) -%}
            {%- set asked = "var as_of=" ~ (var('as_of') | string | trim) -%}
            {%- if span.rows | length == 0 or span.rows[0][0] is none -%}
                {{ exceptions.raise_compiler_error(
                    asked ~ ": the warehouse holds no data yet") }}
            {%- elif span.rows[0][2] -%}
                {{ exceptions.raise_compiler_error(
                    asked ~ " is before any data: the first record is at "
                    ~ span.rows[0][0] ~ " (the newest at " ~ span.rows[0][1] ~ ")") }}
            {%- elif span.rows[0][3] -%}
                {{ log(asked ~ " is after the newest data (" ~ span.rows[0][1]
                    ~ "): evaluated at the newest data's instant", info=True) }}
            {%- endif -%}
        {%- endif -%}
        select
            case
                when cast('{{ requested }}' as {{ dbt.type_timestamp() }}) > as_of then as_of
                else cast('{{ requested }}' as {{ dbt.type_timestamp() }})
            end as as_of
        from {{ reference_instant }}
    {%- endif -%}
{%- endmacro %}
