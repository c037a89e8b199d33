{#- UNKNOWN_REFERENCE on the sharing records: a distributor link naming an unknown distributor
    or sales user, a sharing setting of an unknown distributor. One row per record and unknown
    reference. Key columns: seed exception_codes. -#}
with

link_intervals as (

    select * from {{ ref('int_link_intervals') }}

),

sharing_settings as (

    select * from {{ ref('stg_sharing_settings') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

unknown_link_user as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'linked_at',
            sentence(['Link from distributor ', '=distributor_user_id', ' to sales user ',
                '=sales_user_id', ' names an unknown ',
                "=case when is_distributor_known then 'sales user' else 'distributor' end",
                '.']),
            user_id='distributor_user_id', related_user_id='sales_user_id') }}
    from link_intervals
    where not is_distributor_known

    union all

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'linked_at',
            sentence(['Link from distributor ', '=distributor_user_id', ' to sales user ',
                '=sales_user_id', ' names an unknown sales user.']),
            user_id='distributor_user_id', related_user_id='sales_user_id') }}
    from link_intervals
    where not is_sales_user_known

),

unknown_sharing_user as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'sharing_settings.effective_at',
            sentence(['Sharing setting of ', '=sharing_settings.distributor_user_id',
                ' from ', '=sharing_settings.effective_at', ' names an unknown user.']),
            user_id='sharing_settings.distributor_user_id') }}
    from sharing_settings
    left join users
        on sharing_settings.distributor_user_id = users.user_id
    where users.user_id is null

),

family_exceptions as (

    select * from unknown_link_user
    union all
    select * from unknown_sharing_user

),

final as (

    select
        {{ exception_id() }} as exception_id,
        family_exceptions.*
    from family_exceptions

)

select * from final
