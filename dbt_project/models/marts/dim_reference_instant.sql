{#- The span of the data, for readers asking "as of when": the build's reference instant
    ("now") and the earliest business timestamp (point-in-time views refuse an instant before
    it). One row. -#}
with

reference_instant as (

    select * from {{ ref('int_reference_instant') }}

),

final as (

    select
        cast(reference_id as {{ dbt.type_bigint() }}) as reference_id,
        as_of,
        as_of_source,
        first_seen_at
    from reference_instant

)

select * from final
