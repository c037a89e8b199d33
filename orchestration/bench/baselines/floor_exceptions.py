"""The floor's ``fct_exceptions``: all 19 codes by hand over the floor's temp tables.

Rules as docs/rules.md ("Anomaly codes") states them; one ``union all`` branch per code and kind
of record, each filling the key columns its code has in the seed ``exception_codes.csv`` (read
for severities). The ``detail`` text is shorter than the warehouse's: the bench compares codes,
keys and ``occurred_at``, not wording.
"""

from __future__ import annotations

_KEYS = ("event_id", "line_no", "item_id", "user_id", "related_user_id", "facility_id",
         "transfer_id")  # fmt: skip


def _row(code: str, at: str, detail: str, **keys: str) -> str:
    """One branch's select list: the code, every key column (null unless given), when."""
    cols = ", ".join(f"{keys.get(k, 'null')} as {k}" for k in _KEYS)
    return f"select '{code}' as code, {cols}, {at} as occurred_at, '{detail}' as detail"


_LINE = {"event_id": "event_id", "line_no": "line_no", "item_id": "item_id",
         "user_id": "representative_id", "facility_id": "facility_id"}  # fmt: skip

# each accepted transfer of a known item: the custodian just before it, whether the item was
# live (created and not yet deactivated: R-18 beats R-3) and facility stock then
TRANSFER_STATES = """
create or replace temp table f_transfer_states as
with accepted as (
    select t.transfer_id, t.item_id, t.from_custodian_id, t.to_custodian_id,
           t.effective_at as transferred_at, d.deactivated_at,
           t.effective_at >= i.created_at as is_item_created,
           t.effective_at >= i.created_at
           and (d.deactivated_at is null or t.effective_at <= d.deactivated_at) as is_item_live
    from b_transfers t
    join b_items i on i.item_id = t.item_id
    left join b_deactivations d on d.item_id = t.item_id
    where t.status = 'ACCEPTED'
),
live_before as (
    select transfer_id, previous_custodian_id as custodian_before
    from b_custody_intervals
    where transfer_id is not null
),
not_live_before as (
    select a.transfer_id, c.custodian_id as custodian_before
    from accepted a
    join b_custody_intervals c on c.item_id = a.item_id and a.transferred_at >= c.valid_from
                              and (c.valid_to is null or a.transferred_at < c.valid_to)
    where not a.is_item_live and a.is_item_created
),
stock_before as (
    select a.transfer_id, l.facility_id as stock_facility_id
    from accepted a
    join f_life l on l.item_id = a.item_id and l.is_facility_stock_sale
                 and a.transferred_at > l.line_at
    where a.is_item_live
    qualify row_number() over (partition by a.transfer_id order by l.item_seq desc) = 1
)
select a.*, not a.is_item_live as is_item_inactive,
       case when a.is_item_live then lb.custodian_before else nb.custodian_before end
           as custodian_before,
       s.transfer_id is not null as is_facility_stock, s.stock_facility_id
from accepted a
left join live_before lb on lb.transfer_id = a.transfer_id
left join not_live_before nb on nb.transfer_id = a.transfer_id
left join stock_before s on s.transfer_id = a.transfer_id;
"""

LINKS = """
create or replace temp table f_links as
select l.*, d.role as distributor_role, s.role as sales_role,
       d.user_id is not null as is_distributor_known, s.user_id is not null as is_sales_known,
       coalesce(d.role = 'DISTRIBUTOR' and s.role = 'SALES', false) as has_valid_roles
from b_links l
left join b_users d on d.user_id = l.distributor_user_id
left join b_users s on s.user_id = l.sales_user_id;
"""

_FS = "usage_class = 'NON_SALE_FACILITY_STOCK'"
_SUBMITTED_CONSUMING = "is_submitted and is_consuming"
_BRANCHES = [
    # billing
    _row("DOUBLE_BILLED", "line_at", "billed facility stock", **_LINE) + " "
    f"from f_fct_event_lines where {_FS} and billed_amount > 0",
    _row("UNBILLED_SALE", "line_at", "sale not billed", **_LINE) + " from f_fct_event_lines "
    "where event_type = 'CASE' and usage_class = 'SALE' and billed_amount = 0",
    _row("BILLED_AMOUNT_MISMATCH", "line_at", "billed <> expected", **_LINE) + " "
    "from f_fct_event_lines where event_type = 'CASE' and usage_class in ('SALE', 'NO_CHARGE') "
    "and billed_amount > 0 and billed_amount <> expected_amount",
    _row("SOLD_TWICE", "line_at", "sold beyond its quantity", **_LINE) + " from ("
    "select *, sum(quantity) over (partition by item_id order by line_at, event_id, line_no "
    "rows between unbounded preceding and current row) as sold_so_far from f_fct_event_lines "
    "where usage_class = 'SALE' and is_single_use) where sold_so_far > item_quantity",
    # facility stock
    _row("FS_WRONG_FACILITY", "line_at", "used at another facility", **_LINE) + " "
    f"from f_fct_event_lines where {_FS} and coalesce(facility_id <> stock_facility_id, true)",
    _row("FS_INELIGIBLE_REP", "line_at", "no path to the seller", **_LINE) + " "
    f"from f_fct_event_lines where {_FS} and access_path is null",
    _row(
        "MIXED_CASE",
        "min(line_at)",
        "facility stock and consigned lines",
        event_id="event_id",
        user_id="representative_id",
        facility_id="facility_id",
    )
    + " "
    "from f_fct_event_lines where event_type = 'CASE' "
    "group by event_id, representative_id, facility_id "
    f"having count(*) filter ({_FS}) > 0 "
    "and count(*) filter (usage_class in ('SALE', 'NO_CHARGE')) > 0",
    _row(
        "FS_TRANSFERRED",
        "transferred_at",
        "facility stock transferred",
        item_id="item_id",
        facility_id="stock_facility_id",
        transfer_id="transfer_id",
    )
    + " "
    "from f_transfer_states where is_facility_stock and not is_item_inactive",
    _row(
        "FS_RETURNED",
        "line_at",
        "facility stock returned",
        **{**_LINE, "facility_id": "stock_facility_id"},
    )
    + " "
    "from f_fct_event_lines where event_type = 'RETURN' and is_submitted and is_consuming "
    "and is_facility_stock and is_item_active",
    # custody and acting users
    _row("OUTSIDE_CUSTODY", "line_at", "no path to the custodian", **_LINE) + " "
    "from f_fct_event_lines where event_type = 'CASE' "
    "and usage_class in ('SALE', 'NO_CHARGE') and access_path is null",
    _row("SO_NOT_IN_CUSTODY", "line_at", "sold outside own custody", **_LINE) + " "
    f"from f_fct_event_lines where event_type = 'STOCKING_ORDER' and {_SUBMITTED_CONSUMING} "
    "and coalesce(custodian_at_use <> representative_id, true)",
    _row(
        "TRANSFER_NOT_FROM_CUSTODIAN",
        "transferred_at",
        "not from the custodian",
        item_id="item_id",
        transfer_id="transfer_id",
    )
    + " "
    "from f_transfer_states where coalesce(from_custodian_id <> custodian_before, true)",
    _row(
        "NON_CUSTODIAL_HOLDER",
        "c.valid_from",
        "held by a non-custodial role",
        item_id="c.item_id",
        user_id="c.custodian_id",
        transfer_id="c.transfer_id",
    )
    + " "
    "from b_custody_intervals c join b_users u on u.user_id = c.custodian_id "
    "where u.role not in ('SALES', 'DISTRIBUTOR')",
    _row(
        "CUSTODIAN_ONLY_REP",
        "e.event_date",
        "custodian-only representative",
        event_id="e.event_id",
        user_id="e.representative_id",
        facility_id="e.facility_id",
    )
    + " "
    "from b_events e join b_users u on u.user_id = e.representative_id "
    "where e.event_type = 'CASE' and u.is_custodian_only",
    # item life
    _row("INACTIVE_ITEM_USED", "line_at", "line on an inactive item", **_LINE) + " "
    f"from f_fct_event_lines where {_SUBMITTED_CONSUMING} and not is_item_active",
    _row(
        "INACTIVE_ITEM_USED",
        "transferred_at",
        "transfer of an inactive item",
        item_id="item_id",
        transfer_id="transfer_id",
    )
    + " "
    "from f_transfer_states where is_item_inactive",
    _row("EXPIRED_ITEM_USED", "line_at", "used after expiry", **_LINE) + " "
    f"from f_fct_event_lines where {_SUBMITTED_CONSUMING} and expiration_date is not null "
    "and line_at::date > expiration_date",
    # links
    _row(
        "LINK_INVALID_ROLES",
        "linked_at",
        "link between wrong roles",
        user_id="distributor_user_id",
        related_user_id="sales_user_id",
    )
    + " "
    "from f_links where (is_distributor_known and distributor_role <> 'DISTRIBUTOR') "
    "or (is_sales_known and sales_role <> 'SALES')",
    _row(
        "LINK_OVERLAP",
        "linked_at",
        "linked to two distributors at once",
        user_id="sales_user_id",
        related_user_id="distributor_user_id",
    )
    + " "
    "from (select distinct later.sales_user_id, later.distributor_user_id, later.linked_at "
    "from f_links later join f_links earlier on later.sales_user_id = earlier.sales_user_id "
    "and later.distributor_user_id <> earlier.distributor_user_id "
    "and (later.linked_at > earlier.linked_at or (later.linked_at = earlier.linked_at "
    "and later.distributor_user_id > earlier.distributor_user_id)) "
    "and (earlier.unlinked_at is null or later.linked_at < earlier.unlinked_at) "
    "where later.has_valid_roles and earlier.has_valid_roles "
    "and (later.unlinked_at is null or later.linked_at < later.unlinked_at) "
    "and (earlier.unlinked_at is null or earlier.linked_at < earlier.unlinked_at))",
    # unknown references: lines, events
    _row(
        "UNKNOWN_REFERENCE",
        "l.updated_at",
        "line of an unknown event",
        event_id="l.event_id",
        line_no="l.line_no",
    )
    + " "
    "from b_lines l anti join b_events e on e.event_id = l.event_id",
    _row(
        "UNKNOWN_REFERENCE",
        "coalesce(e.line_at, l.updated_at)",
        "unknown item",
        event_id="l.event_id",
        line_no="l.line_no",
        item_id="l.item_id",
    )
    + " "
    "from b_lines l left join b_events e on e.event_id = l.event_id "
    "where not exists (select 1 from b_items i where i.item_id = l.item_id)",
    _row(
        "UNKNOWN_REFERENCE",
        "e.event_date",
        "unknown representative",
        event_id="e.event_id",
        user_id="e.representative_id",
    )
    + " "
    "from b_events e anti join b_users u on u.user_id = e.representative_id",
    _row(
        "UNKNOWN_REFERENCE",
        "e.event_date",
        "unknown facility",
        event_id="e.event_id",
        facility_id="e.facility_id",
    )
    + " "
    "from b_events e anti join b_facilities f on f.facility_id = e.facility_id",
    # unknown references: items, transfers
    _row("UNKNOWN_REFERENCE", "i.created_at", "unknown product", item_id="i.item_id") + " "
    "from b_items i anti join b_products p on p.catalog_number = i.catalog_number",
    _row(
        "UNKNOWN_REFERENCE",
        "i.created_at",
        "unknown initial custodian",
        item_id="i.item_id",
        user_id="i.initial_custodian_id",
    )
    + " "
    "from b_items i anti join b_users u on u.user_id = i.initial_custodian_id "
    "where i.initial_custodian_id <> 'ORG'",
    _row(
        "UNKNOWN_REFERENCE",
        "t.recorded_at",
        "transfer of an unknown item",
        item_id="t.item_id",
        transfer_id="t.transfer_id",
    )
    + " "
    "from f_transfer_ends t anti join b_items i on i.item_id = t.item_id where t.end_no = 1",
    _row(
        "UNKNOWN_REFERENCE",
        "t.recorded_at",
        "unknown transfer end",
        item_id="t.item_id",
        user_id="t.custodian_id",
        transfer_id="t.transfer_id",
    )
    + " "
    "from f_transfer_ends t anti join b_users u on u.user_id = t.custodian_id "
    "where t.custodian_id <> 'ORG'",
    # unknown references: links, sharing settings
    _row(
        "UNKNOWN_REFERENCE",
        "linked_at",
        "link to an unknown distributor",
        user_id="distributor_user_id",
        related_user_id="sales_user_id",
    )
    + " "
    "from f_links where not is_distributor_known",
    _row(
        "UNKNOWN_REFERENCE",
        "linked_at",
        "link to an unknown sales user",
        user_id="distributor_user_id",
        related_user_id="sales_user_id",
    )
    + " "
    "from f_links where not is_sales_known",
    _row(
        "UNKNOWN_REFERENCE",
        "s.effective_at",
        "sharing of an unknown distributor",
        user_id="s.distributor_user_id",
    )
    + " "
    "from b_sharing s anti join b_users u on u.user_id = s.distributor_user_id",
]

TRANSFER_ENDS = """
create or replace temp table f_transfer_ends as
with recorded as (
    select *, case when status = 'ACCEPTED' then effective_at else created_at end as recorded_at
    from b_transfers
)
select transfer_id, item_id, recorded_at, from_custodian_id as custodian_id, 1 as end_no
from recorded
union all
select transfer_id, item_id, recorded_at, to_custodian_id, 2 from recorded;
"""

EXCEPTIONS = (
    "create or replace temp table f_fct_exceptions as\n"
    "with found as (\n" + "\nunion all\n".join(_BRANCHES) + "\n)\n"
    "select found.code, c.severity, found.* exclude (code)\n"
    "from found left join b_exception_codes c on c.code = found.code;"
)

STEPS = {
    "transfer_states": TRANSFER_STATES,
    "link_states": LINKS,
    "transfer_ends": TRANSFER_ENDS,
    "exceptions": EXCEPTIONS,
}
SCRIPT = ["transfer_states", "link_states", "transfer_ends", "exceptions"]
