{#- Closed months as `custodia close` froze them (audit.closed_months, append-only): one row
    per month and facility with every figure and who closed it, when, through which delivery. -#}
with

source as (

    select * from {{ source('audit', 'closed_months') }}

),

renamed as (

    select
        cast(month as date) as month,  -- noqa: RF04
        trim(facility_id) as facility_id,
        {% for figure in closed_figures() -%}
            cast({{ figure }} as {{ money_type() }}) as {{ figure }},
        {% endfor -%}
        closed_at,
        closed_by,
        cast(delivery_watermark as bigint) as delivery_watermark,
        data_as_of
    from source

),

final as (

    select * from renamed

)

select * from final
