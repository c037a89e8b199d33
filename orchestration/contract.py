"""The export contract (docs/data_contract.md), as data.

One place names every entity, its columns, their logical types, keys and enumerations. The
generator writes files from it, ingestion validates against it and creates the raw tables from
it, and tests check the documentation against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ORG = "ORG"  # reserved custodian id: the organization's own stock room

ROLES = ("PRIMARY_ADMIN", "ADMIN", "OPERATIONS", "REGIONAL_MANAGER", "DISTRIBUTOR", "SALES")
HOLDER_ROLES = ("SALES", "DISTRIBUTOR")
ADMIN_ROLES = ("PRIMARY_ADMIN", "ADMIN", "OPERATIONS")  # R-5 ADMIN path
TRACKING = ("SERIAL", "LOT")
TRANSFER_STATUSES = ("PENDING", "ACCEPTED", "DECLINED", "HOLD")
EVENT_TYPES = (
    "CASE",
    "STOCKING_ORDER",
    "RETURN",
    "STOCK_ADJUSTMENT",
    "DAMAGE",
    "LOAN",
    "SAMPLE",
    "TRIAL",
    "OTHER",
)
EVENT_STATUSES = ("OPEN", "CLOSED", "COMPLETED", "PAID", "CANCELLED")
SUBMITTED_STATUSES = ("CLOSED", "COMPLETED", "PAID")
USAGE_STATUSES = ("USED", "IMPLANTED", "IN_OUT", "DAMAGED_WASTE", "UNUSED")
CONSUMING_USAGE = ("USED", "IMPLANTED", "IN_OUT", "DAMAGED_WASTE")

# logical type -> DuckDB type of the raw table
DUCKDB_TYPES = {
    "id": "varchar",
    "text": "varchar",
    "enum": "varchar",
    "timestamp": "timestamp",
    "date": "date",
    "boolean": "boolean",
    "integer": "bigint",
    "money": "decimal(18,2)",
    "rate": "decimal(9,4)",
}

# The key columns of marts.fct_exceptions and of the generator's _truth/expected_exceptions.csv.
# Which of them each anomaly code fills: key_columns of dbt_project/seeds/exception_codes.csv.
# The test oracle keeps its own copy on purpose.
EXCEPTION_KEY_COLUMNS = (
    "code",
    "event_id",
    "line_no",
    "item_id",
    "user_id",
    "related_user_id",
    "facility_id",
    "transfer_id",
)

# The longest id accepted, in characters: the generator's ids are at most 10, a UUID is 36; 64
# leaves room for prefixed or composite ids of other source systems.
ID_MAX_LENGTH = 64

LINEAGE_COLUMNS = {
    "_file_id": "bigint",
    "_source_file": "varchar",
    "_row_number": "bigint",
    "_loaded_at": "timestamp",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a key of DUCKDB_TYPES
    required: bool = True  # False: may be empty
    enum: tuple[str, ...] | None = None
    non_negative: bool = False
    description: str = ""
    # id and text columns: the longest value accepted, in characters (Unicode code points); a
    # longer value rejects its row (``too_long``). Enum values are bounded by their enumeration.
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.type in ("id", "text") and self.max_length is None:
            raise ValueError(f"{self.name}: an {self.type} column needs a max_length")

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Entity:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str = ""
    versioned_by: str | None = "updated_at"  # newest wins; None: later delivery wins
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def raw_ddl(self, schema: str = "raw") -> str:
        cols = [f"{c.name} {c.duckdb_type}" for c in self.columns]
        cols += [f"{n} {t}" for n, t in LINEAGE_COLUMNS.items()]
        return f"create table if not exists {schema}.{self.name} ({', '.join(cols)})"


def _c(name, type_, **kw) -> Column:
    if type_ == "id":
        kw.setdefault("max_length", ID_MAX_LENGTH)
    return Column(name, type_, **kw)


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "users",
            key=("user_id",),
            description="People and accounts of the organization, with their role.",
            columns=(
                _c("user_id", "id"),
                _c("email", "text", required=False, max_length=254),
                _c("full_name", "text", required=False, max_length=200),
                _c("role", "enum", enum=ROLES),
                _c("is_custodian_only", "boolean"),
                _c("is_active", "boolean"),
                _c("commission_rate", "rate", required=False, non_negative=True),
                _c("region", "text", required=False, max_length=100),
                _c("created_at", "timestamp"),
                _c("updated_at", "timestamp"),
            ),
        ),
        Entity(
            "distributor_links",
            key=("distributor_user_id", "sales_user_id", "linked_at"),
            description="A distributor linked to a sales user, from linked_at until unlinked_at.",
            columns=(
                _c("distributor_user_id", "id"),
                _c("sales_user_id", "id"),
                _c("linked_at", "timestamp"),
                _c("unlinked_at", "timestamp", required=False),
                _c("updated_at", "timestamp"),
            ),
        ),
        Entity(
            "sharing_settings",
            key=("distributor_user_id", "effective_at"),
            description="A distributor switches sharing with its linked reps on or off.",
            versioned_by=None,
            columns=(
                _c("distributor_user_id", "id"),
                _c("sharing_enabled", "boolean"),
                _c("effective_at", "timestamp"),
            ),
        ),
        Entity(
            "facilities",
            key=("facility_id",),
            description="Hospitals and surgery centres.",
            columns=(
                _c("facility_id", "id"),
                _c("name", "text", required=False, max_length=200),
                _c("state", "text", required=False, max_length=100),
                _c("contract_complete", "boolean"),
                _c("updated_at", "timestamp"),
            ),
        ),
        Entity(
            "products",
            key=("catalog_number",),
            description="The catalog: serial- or lot-tracked, single-use or reusable.",
            columns=(
                _c("catalog_number", "id"),
                _c("description", "text", required=False, max_length=1000),
                _c("product_line", "text", required=False, max_length=100),
                _c("tracking", "enum", enum=TRACKING),
                _c("is_single_use", "boolean"),
                _c("list_price", "money", non_negative=True),
                _c("unit_cost", "money", required=False, non_negative=True),
                _c("updated_at", "timestamp"),
            ),
        ),
        Entity(
            "inventory_items",
            key=("item_id",),
            description="A serial item (quantity 1) or a lot record (quantity n).",
            columns=(
                _c("item_id", "id"),
                _c("catalog_number", "id"),
                _c("lot_number", "text", required=False, max_length=ID_MAX_LENGTH),
                _c("serial_number", "text", required=False, max_length=ID_MAX_LENGTH),
                _c("quantity", "integer", non_negative=True),
                _c("expiration_date", "date", required=False),
                _c("initial_custodian_id", "id"),
                _c("created_at", "timestamp"),
                _c("updated_at", "timestamp"),
            ),
        ),
        Entity(
            "transfers",
            key=("transfer_id",),
            description="A move of an item from one custodian to another.",
            columns=(
                _c("transfer_id", "id"),
                _c("item_id", "id"),
                _c("from_custodian_id", "id"),
                _c("to_custodian_id", "id"),
                _c("quantity", "integer", non_negative=True),
                _c("status", "enum", enum=TRANSFER_STATUSES),
                _c("created_at", "timestamp"),
                _c("responded_at", "timestamp", required=False),
                _c("updated_at", "timestamp"),
            ),
        ),
        Entity(
            "events",
            key=("event_id",),
            description="Cases, stocking orders, returns, adjustments and other events.",
            columns=(
                _c("event_id", "id"),
                _c("event_type", "enum", enum=EVENT_TYPES),
                _c("representative_id", "id"),
                _c("facility_id", "id"),
                _c("event_date", "timestamp"),
                _c("status", "enum", enum=EVENT_STATUSES),
                _c("submitted_at", "timestamp", required=False),
                _c("deactivate_on_submit", "boolean"),
                _c("updated_at", "timestamp"),
            ),
        ),
        Entity(
            "event_lines",
            key=("event_id", "line_no"),
            description="The items an event lists, with usage, price and what was billed.",
            columns=(
                _c("event_id", "id"),
                _c("line_no", "integer", non_negative=True),
                _c("item_id", "id"),
                _c("quantity", "integer", non_negative=True),
                _c("usage_status", "enum", enum=USAGE_STATUSES),
                _c("unit_price", "money", non_negative=True),
                _c("no_charge", "boolean"),
                _c("billed_amount", "money", non_negative=True),
                _c("updated_at", "timestamp"),
            ),
        ),
    )
}

ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)
