with

custody_intervals as (

    select * from {{ ref('int_custody_intervals') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

final as (

    select
        custody_intervals.custody_interval_id,
        custody_intervals.item_id,
        cast(custody_intervals.interval_no as {{ dbt.type_bigint() }}) as interval_no,
        custody_intervals.custodian_id,
        case
            when custody_intervals.custodian_id = 'ORG' then 'ORG'
            else users.role
        end as custodian_role,
        custody_intervals.valid_from,
        custody_intervals.valid_to,
        custody_intervals.transfer_id,
        custody_intervals.is_current
    from custody_intervals
    left join users
        on custody_intervals.custodian_id = users.user_id

)

select * from final
