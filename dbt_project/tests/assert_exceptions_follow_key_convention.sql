-- docs/architecture.md, EXCEPTIONS KEY CONVENTION: each code fills only its key columns.
with

exceptions as (

    select * from {{ ref('fct_exceptions') }}

),

final as (

    select *
    from exceptions
    where
        (code in (
            'FS_WRONG_FACILITY', 'FS_INELIGIBLE_REP', 'OUTSIDE_CUSTODY', 'DOUBLE_BILLED',
            'UNBILLED_SALE', 'BILLED_AMOUNT_MISMATCH', 'SOLD_TWICE', 'EXPIRED_ITEM_USED',
            'SO_NOT_IN_CUSTODY', 'FS_RETURNED'
        )
        and (
            event_id is null or line_no is null or item_id is null
            or related_user_id is not null or transfer_id is not null
        ))
        or (
            code = 'INACTIVE_ITEM_USED' and transfer_id is null
            and (
                event_id is null or line_no is null or item_id is null
                or related_user_id is not null
            )
        )
        or (
            code in ('INACTIVE_ITEM_USED', 'TRANSFER_NOT_FROM_CUSTODIAN') and transfer_id is not null
            and (
                event_id is not null or line_no is not null or user_id is not null
                or related_user_id is not null or facility_id is not null or item_id is null
            )
        )
        or (
            code in ('MIXED_CASE', 'CUSTODIAN_ONLY_REP')
            and (
                event_id is null or line_no is not null or item_id is not null
                or related_user_id is not null or transfer_id is not null
            )
        )
        or (
            code = 'FS_TRANSFERRED'
            and (
                transfer_id is null or item_id is null or event_id is not null
                or line_no is not null or user_id is not null or related_user_id is not null
            )
        )
        or (
            code = 'NON_CUSTODIAL_HOLDER'
            and (
                item_id is null or user_id is null or event_id is not null
                or line_no is not null or related_user_id is not null or facility_id is not null
            )
        )
        or (
            code in ('LINK_INVALID_ROLES', 'LINK_OVERLAP')
            and (
                user_id is null or related_user_id is null or event_id is not null
                or line_no is not null or item_id is not null or facility_id is not null
                or transfer_id is not null
            )
        )

)

select * from final
