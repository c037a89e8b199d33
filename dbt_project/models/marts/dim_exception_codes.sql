{#- The anomaly codes of fct_exceptions (seed exception_codes), typed for readers. -#}
with

exception_codes as (

    select * from {{ ref('exception_codes') }}

),

final as (

    select
        cast(code as {{ dbt.type_string() }}) as code,
        cast(severity as {{ dbt.type_string() }}) as severity,
        cast(severity_rank as {{ dbt.type_bigint() }}) as severity_rank,
        -- `rule` (a name readers rely on) is an unreserved keyword: fine as a column name
        cast(rule as {{ dbt.type_string() }}) as rule,  -- noqa: RF04
        cast(description as {{ dbt.type_string() }}) as description,
        cast(key_columns as {{ dbt.type_string() }}) as key_columns
    from exception_codes

)

select * from final
