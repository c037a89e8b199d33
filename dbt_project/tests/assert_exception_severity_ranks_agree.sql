-- Each severity of the exception codes has one severity_rank, and each rank one severity.
with

exception_codes as (

    select * from {{ ref('exception_codes') }}

),

ranks_per_severity as (

    select
        severity,
        count(distinct severity_rank) as variants
    from exception_codes
    group by severity

),

severities_per_rank as (

    select
        cast(severity_rank as {{ dbt.type_string() }}) as severity,
        count(distinct severity) as variants
    from exception_codes
    group by severity_rank

),

final as (

    select * from ranks_per_severity
    where variants > 1
    union all
    select * from severities_per_rank
    where variants > 1

)

select * from final
