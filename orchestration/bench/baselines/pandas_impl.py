"""The core marts in plain pandas (no dbt, no SQL beyond reading the raw tables).

Straightforward: read each raw table into a DataFrame and keep the newest version per key by
sorting (the loaders ``_items`` .. ``_facilities``), then sort/groupby/cumsum for item life
(``line_sequence``) and custody periods (``custody``), merges for access paths
(``best_paths``). Each mart function (``BASELINES``) reads what it needs from ``raw.*`` and
computes the mart from scratch.

Every loader returns the staged frame and the latest business timestamp it holds: the build's
reference instant ("now" of ``fct_facility_stock_access``) is the latest of them
(docs/rules.md, int_reference_instant).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

ORDER = ["updated_at", "_file_id", "_row_number"]
ADMIN_ROLES = ["PRIMARY_ADMIN", "ADMIN", "OPERATIONS"]
PATHS = ["OWN", "DISTRIBUTOR_SHARE", "DISTRIBUTOR_OVER_REP", "ADMIN"]  # best first

Latest = pd.Timestamp | None


def _raw(con: duckdb.DuckDBPyConnection, table: str, cols: list[str]) -> pd.DataFrame:
    return con.execute(f"select {', '.join(cols)} from w.raw.{table}").df()


def _newest(df: pd.DataFrame, key: list[str], order: list[str] = ORDER) -> pd.DataFrame:
    df = df.sort_values(order, ascending=False, na_position="last", kind="stable")
    return df.drop_duplicates(subset=key, keep="first")


def _trim(s: pd.Series) -> pd.Series:
    return s.str.strip()


def _upper(s: pd.Series) -> pd.Series:
    return s.str.strip().str.upper()


def _bool(s: pd.Series, default: bool) -> pd.Series:
    return s.fillna(default).astype(bool)


def _latest(*cols: pd.Series) -> Latest:
    values = [c.max() for c in cols]
    return max((v for v in values if pd.notna(v)), default=None)


# ---------------------------------------------------------------- staging (newest, trimmed)


def _items(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    cols = ["item_id", "catalog_number", "quantity", "initial_custodian_id", "created_at"]
    df = _newest(_raw(con, "inventory_items", [*cols, *ORDER]), ["item_id"])
    items = pd.DataFrame(
        {
            "item_id": _trim(df["item_id"]),
            "catalog_number": _trim(df["catalog_number"]),
            "item_quantity": df["quantity"].fillna(0),
            "initial_custodian_id": _trim(df["initial_custodian_id"]),
            "created_at": df["created_at"],
        }
    )
    return items, _latest(df["updated_at"], df["created_at"])


def _products(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    df = _newest(_raw(con, "products", ["catalog_number", "is_single_use", *ORDER]),
                 ["catalog_number"])  # fmt: skip
    products = pd.DataFrame(
        {"catalog_number": _trim(df["catalog_number"]), "is_single_use": df["is_single_use"]}
    )
    return products, _latest(df["updated_at"])


def _events(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    cols = ["event_id", "event_type", "representative_id", "facility_id", "status",
            "deactivate_on_submit", "event_date", "submitted_at"]  # fmt: skip
    df = _newest(_raw(con, "events", [*cols, *ORDER]), ["event_id"])
    etype = _upper(df["event_type"])
    events = pd.DataFrame(
        {
            "event_id": _trim(df["event_id"]),
            "event_type": etype,
            "representative_id": _trim(df["representative_id"]),
            "facility_id": _trim(df["facility_id"]),
            "is_submitted": _upper(df["status"]).isin(["CLOSED", "COMPLETED", "PAID"]),
            "deactivate_on_submit": _bool(df["deactivate_on_submit"], False),
            # a case takes effect at event_date, other events at submitted_at (or updated_at)
            "line_at": df["event_date"].where(
                etype == "CASE", df["submitted_at"].fillna(df["updated_at"])
            ),
        }
    )
    return events, _latest(df["updated_at"], df["event_date"], df["submitted_at"])


def _lines(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    cols = ["event_id", "line_no", "item_id", "quantity", "usage_status", "unit_price",
            "no_charge"]  # fmt: skip
    df = _newest(_raw(con, "event_lines", [*cols, *ORDER]), ["event_id", "line_no"])
    lines = pd.DataFrame(
        {
            "event_id": _trim(df["event_id"]),
            "line_no": df["line_no"],
            "item_id": _trim(df["item_id"]),
            "quantity": df["quantity"],
            "is_consuming": _upper(df["usage_status"]).isin(
                ["USED", "IMPLANTED", "IN_OUT", "DAMAGED_WASTE"]
            ),
            "unit_price": df["unit_price"],
            "no_charge": _bool(df["no_charge"], False),
        }
    )
    return lines, _latest(df["updated_at"])


def _transfers(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    cols = ["transfer_id", "item_id", "to_custodian_id", "status", "responded_at", "created_at"]
    df = _newest(_raw(con, "transfers", [*cols, *ORDER]), ["transfer_id"])
    transfers = pd.DataFrame(
        {
            "transfer_id": _trim(df["transfer_id"]),
            "item_id": _trim(df["item_id"]),
            "custodian_id": _trim(df["to_custodian_id"]),
            "status": _upper(df["status"]),
            "moved_at": df["responded_at"].fillna(df["updated_at"]).fillna(df["created_at"]),
        }
    )
    return transfers, _latest(df["updated_at"], df["created_at"], df["responded_at"])


def _users(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    cols = ["user_id", "role", "is_custodian_only", "created_at"]
    df = _newest(_raw(con, "users", [*cols, *ORDER]), ["user_id"])
    users = pd.DataFrame(
        {
            "user_id": _trim(df["user_id"]),
            "role": _upper(df["role"]),
            "is_custodian_only": _bool(df["is_custodian_only"], False),
        }
    )
    return users, _latest(df["updated_at"], df["created_at"])


def _links(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    cols = ["distributor_user_id", "sales_user_id", "linked_at", "unlinked_at"]
    df = _newest(_raw(con, "distributor_links", [*cols, *ORDER]),
                 ["distributor_user_id", "sales_user_id", "linked_at"])  # fmt: skip
    links = pd.DataFrame(
        {
            "distributor_user_id": _trim(df["distributor_user_id"]),
            "sales_user_id": _trim(df["sales_user_id"]),
            "linked_at": df["linked_at"],
            "unlinked_at": df["unlinked_at"],
        }
    )
    return links, _latest(df["updated_at"], df["linked_at"], df["unlinked_at"])


def _sharing(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    """Each setting holds from its effective_at to the distributor's next one (no updated_at
    on this entity: the later delivery wins)."""
    cols = ["distributor_user_id", "sharing_enabled", "effective_at", "_file_id", "_row_number"]
    df = _newest(_raw(con, "sharing_settings", cols), ["distributor_user_id", "effective_at"],
                 order=["_file_id", "_row_number"])  # fmt: skip
    sharing = pd.DataFrame(
        {
            "distributor_user_id": _trim(df["distributor_user_id"]),
            "sharing_enabled": df["sharing_enabled"],
            "valid_from": df["effective_at"],
        }
    ).sort_values(["distributor_user_id", "valid_from"], kind="stable")
    sharing["valid_to"] = sharing.groupby("distributor_user_id")["valid_from"].shift(-1)
    return sharing, _latest(df["effective_at"])


def _facilities(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Latest]:
    df = _newest(_raw(con, "facilities", ["facility_id", *ORDER]), ["facility_id"])
    return pd.DataFrame({"facility_id": _trim(df["facility_id"])}), _latest(df["updated_at"])


# ---------------------------------------------------------------- item life and custody


def line_sequence(
    lines: pd.DataFrame, events: pd.DataFrame, items: pd.DataFrame, products: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Item life (R-7, R-8, R-11, R-12, R-15, R-18): the consuming lines of submitted events on
    known items, per item in time order (``item_seq``), with the facility-stock epoch each is
    in, whether it starts one and whether it deactivates the item; and the first deactivating
    line of each item (``deactivation_seq``, ``deactivated_at``)."""
    eff = lines.merge(events, on="event_id").merge(items, on="item_id")
    eff = eff[eff["is_submitted"] & eff["is_consuming"] & eff["line_at"].notna()]
    eff = eff.merge(products, on="catalog_number", how="left")
    eff["quantity"] = eff["quantity"].fillna(0)
    eff["is_single_use"] = _bool(eff["is_single_use"], True)
    eff = eff.sort_values(["item_id", "line_at", "event_id", "line_no"], kind="stable")
    eff = eff.reset_index(drop=True)
    after = (eff["line_at"] >= eff["created_at"]).to_numpy()
    so = (eff["event_type"] == "STOCKING_ORDER").to_numpy()
    direct = eff["deactivate_on_submit"].to_numpy()
    eff["after_creation"] = after
    eff["item_seq"] = eff.groupby("item_id", sort=False).cumcount() + 1
    eff["starts_stock"] = after & so & ~direct
    eff["stock_epoch"] = eff.groupby("item_id", sort=False)["starts_stock"].cumsum()
    ret_adj = eff["event_type"].isin(["RETURN", "STOCK_ADJUSTMENT"]).to_numpy()
    takes = np.select(
        [~after, so, ret_adj, eff["stock_epoch"].to_numpy() > 0],
        [False, direct, True, True],
        default=eff["is_single_use"].to_numpy(),
    ).astype(bool)
    eff["taken"] = np.where(takes, eff["quantity"].to_numpy(), 0)
    ge = eff.groupby(["item_id", "stock_epoch"], sort=False)
    start_qty = np.where(
        eff["stock_epoch"].to_numpy() == 0,
        eff["item_quantity"].to_numpy(),
        ge["quantity"].transform("first").to_numpy(),
    )
    left = start_qty - ge["taken"].cumsum().to_numpy()
    eff["deactivates"] = after & ((so & direct) | (takes & (left <= 0)))
    first = eff[eff["deactivates"]].drop_duplicates("item_id", keep="first")
    deactivations = pd.DataFrame(
        {
            "item_id": first["item_id"],
            "deactivation_seq": first["item_seq"],
            "deactivated_at": first["line_at"],
        }
    )
    keep = ["item_id", "event_id", "line_no", "quantity", "event_type", "representative_id",
            "facility_id", "line_at", "item_seq", "starts_stock", "deactivates"]  # fmt: skip
    return eff[keep], deactivations


def custody(
    items: pd.DataFrame, transfers: pd.DataFrame, deactivations: pd.DataFrame,
    users: pd.DataFrame,
) -> pd.DataFrame:  # fmt: skip
    """Custody periods (R-1, R-3, R-18): the columns of ``fct_custody_intervals``."""
    accepted = transfers[transfers["status"] == "ACCEPTED"].merge(
        items[["item_id", "created_at"]], on="item_id"
    )
    accepted = accepted.merge(deactivations[["item_id", "deactivated_at"]], on="item_id",
                              how="left")  # fmt: skip
    accepted = accepted[
        (accepted["moved_at"] >= accepted["created_at"])
        & (accepted["deactivated_at"].isna() | (accepted["moved_at"] <= accepted["deactivated_at"]))
    ]
    initial = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "custodian_id": items["initial_custodian_id"],
            "moved_at": items["created_at"],
            "move_order": 0,
            "transfer_id": None,
        }
    )
    moves = pd.concat(
        [initial, accepted[["item_id", "custodian_id", "moved_at", "transfer_id"]].assign(
            move_order=1)],
        ignore_index=True,
    )  # fmt: skip
    moves = moves.sort_values(
        ["item_id", "move_order", "moved_at", "transfer_id"], na_position="last", kind="stable"
    ).reset_index(drop=True)
    gm = moves.groupby("item_id", sort=False)
    moves["interval_no"] = (gm.cumcount() + 1).astype("int64")
    moves["valid_to"] = gm["moved_at"].shift(-1)
    roles = users.drop_duplicates("user_id").set_index("user_id")["role"]
    role = moves["custodian_id"].map(roles)
    return pd.DataFrame(
        {
            "custody_interval_id": moves["item_id"] + "#" + moves["interval_no"].astype(str),
            "item_id": moves["item_id"],
            "interval_no": moves["interval_no"],
            "custodian_id": moves["custodian_id"],
            "custodian_role": role.where(moves["custodian_id"] != "ORG", "ORG"),
            "valid_from": moves["moved_at"],
            "valid_to": moves["valid_to"],
            "transfer_id": moves["transfer_id"],
            "is_current": moves["valid_to"].isna(),
        }
    )


# ---------------------------------------------------------------- access paths


def best_paths(
    requests: pd.DataFrame, users: pd.DataFrame, links: pd.DataFrame, sharing: pd.DataFrame
) -> np.ndarray:
    """The best path of each request (``actor_id`` U, ``target_id`` C, ``checked_at`` t):
    OWN, DISTRIBUTOR_SHARE, DISTRIBUTOR_OVER_REP, ADMIN or None, in request order."""
    req = requests.reset_index(drop=True).assign(rid=np.arange(len(requests)))
    known = users.drop_duplicates("user_id").set_index("user_id")
    actor_role = req["actor_id"].map(known["role"])
    target_role = req["target_id"].map(known["role"])
    actor_full = req["actor_id"].map(known["is_custodian_only"]).eq(False)

    def linked(mask: pd.Series, distributor: str, sales: str) -> pd.DataFrame:
        """Requests of ``mask`` whose distributor and sales ends are linked at t."""
        m = req[mask.fillna(False).to_numpy(bool)].merge(
            links, left_on=[distributor, sales], right_on=["distributor_user_id", "sales_user_id"]
        )
        t = m["checked_at"]
        return m[(m["linked_at"] <= t) & (m["unlinked_at"].isna() | (t < m["unlinked_at"]))]

    own = req["actor_id"].eq(req["target_id"]).fillna(False).to_numpy(bool)
    # DISTRIBUTOR_SHARE: C a DISTRIBUTOR sharing at t, U a SALES user linked to C at t
    shared = linked(target_role.eq("DISTRIBUTOR") & actor_role.eq("SALES"), "target_id",
                    "actor_id")  # fmt: skip
    off = shared[["rid", "target_id", "checked_at"]].merge(
        sharing[sharing["sharing_enabled"].eq(False)],
        left_on="target_id",
        right_on="distributor_user_id",
    )
    off = off[
        (off["valid_from"] <= off["checked_at"])
        & (off["valid_to"].isna() | (off["checked_at"] < off["valid_to"]))
    ]
    share = np.isin(req["rid"], shared["rid"][~shared["rid"].isin(off["rid"])])
    # DISTRIBUTOR_OVER_REP: U a full DISTRIBUTOR, C a SALES user linked to U at t
    over_rep = linked(actor_role.eq("DISTRIBUTOR") & actor_full & target_role.eq("SALES"),
                      "actor_id", "target_id")  # fmt: skip
    over = np.isin(req["rid"], over_rep["rid"])
    admin = actor_role.isin(ADMIN_ROLES).to_numpy(bool)
    return np.select([own, share, over, admin], PATHS, default=None)


# ---------------------------------------------------------------- the marts


def custody_intervals(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    items, _ = _items(con)
    seq, deactivations = line_sequence(_lines(con)[0], _events(con)[0], items, _products(con)[0])
    del seq
    users, _ = _users(con)
    return custody(items, _transfers(con)[0], deactivations, users)


def facility_stock_access(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    items, t_items = _items(con)
    lines, t_lines = _lines(con)
    events, t_events = _events(con)
    products, t_products = _products(con)
    users, t_users = _users(con)
    links, t_links = _links(con)
    sharing, t_sharing = _sharing(con)
    _, t_facilities = _facilities(con)
    _, t_transfers = _transfers(con)  # only for "now"
    as_of = max(
        (t for t in (t_items, t_lines, t_events, t_products, t_users, t_links, t_sharing,
                     t_facilities, t_transfers) if t is not None),
        default=pd.Timestamp("1970-01-01"),
    )  # fmt: skip

    seq, deactivations = line_sequence(lines, events, items, products)
    # facility stock on hand: the latest stocking order of an item never deactivated,
    # less what was used, returned or written off since
    live = seq[~seq["item_id"].isin(deactivations["item_id"])]
    sales = live[live["starts_stock"]].drop_duplicates("item_id", keep="last")
    since = live.merge(sales[["item_id", "item_seq"]].rename(columns={"item_seq": "sale_seq"}),
                       on="item_id")  # fmt: skip
    since = since[(since["item_seq"] > since["sale_seq"])
                  & (since["event_type"] != "STOCKING_ORDER")]  # fmt: skip
    taken = since.groupby("item_id")["quantity"].sum()
    left = sales["quantity"] - sales["item_id"].map(taken).fillna(0)
    on_hand = sales.loc[left > 0, ["item_id", "facility_id", "representative_id"]].rename(
        columns={"representative_id": "seller_id"}
    )

    # who may use it, judged against the seller: only the seller and the users
    # ever linked to it can have a path; admins reach everything and are left out, and
    # custodian-only accounts never act, so they are left out too (whatever the path)
    sellers = on_hand[["seller_id"]].drop_duplicates()
    as_distributor = sellers.merge(links, left_on="seller_id", right_on="distributor_user_id")
    as_sales = sellers.merge(links, left_on="seller_id", right_on="sales_user_id")
    partners = pd.concat(
        [
            sellers.assign(user_id=sellers["seller_id"]),
            pd.DataFrame({"seller_id": as_distributor["seller_id"],
                          "user_id": as_distributor["sales_user_id"]}),
            pd.DataFrame({"seller_id": as_sales["seller_id"],
                          "user_id": as_sales["distributor_user_id"]}),
        ],
        ignore_index=True,
    ).drop_duplicates()  # fmt: skip
    partners = partners.merge(users[["user_id", "role", "is_custodian_only"]], on="user_id")
    partners = partners[
        ~partners["role"].isin(ADMIN_ROLES) & partners["is_custodian_only"].eq(False)
    ].reset_index(drop=True)
    requests = pd.DataFrame(
        {"actor_id": partners["user_id"], "target_id": partners["seller_id"], "checked_at": as_of}
    )
    partners["access_path"] = best_paths(requests, users, links, sharing)
    partners = partners[partners["access_path"].notna() & (partners["access_path"] != "ADMIN")]
    out = on_hand.merge(partners[["seller_id", "user_id", "access_path"]], on="seller_id")
    out["as_of"] = as_of
    return out


def event_lines(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    items, _ = _items(con)
    lines, _ = _lines(con)
    events, _ = _events(con)
    users, _ = _users(con)
    links, _ = _links(con)
    sharing, _ = _sharing(con)
    seq, deactivations = line_sequence(lines, events, items, _products(con)[0])
    intervals = custody(items, _transfers(con)[0], deactivations, users)

    # facility stock at each line: the latest earlier stocking order made while the item was
    # active; the item keeps its seller for life
    seq = seq.merge(deactivations[["item_id", "deactivation_seq"]], on="item_id", how="left")
    active_sale = seq["starts_stock"] & (
        seq["deactivation_seq"].isna() | (seq["item_seq"] <= seq["deactivation_seq"])
    )
    sale_pos = pd.Series(np.where(active_sale, np.arange(len(seq)), np.nan))
    by_item = seq["item_id"].to_numpy()
    last_sale = sale_pos.groupby(by_item).ffill()
    prior_sale = last_sale.groupby(by_item).shift(1)
    has_stock = prior_sale.notna().to_numpy()
    sellers = seq["representative_id"].to_numpy()
    stock = pd.DataFrame(
        {
            "event_id": seq["event_id"][has_stock],
            "line_no": seq["line_no"][has_stock],
            "stock_seller_id": sellers[prior_sale[has_stock].astype(int)],
        }
    )

    known = lines.merge(events, on="event_id").merge(items[["item_id"]], on="item_id")
    known = known.merge(stock, on=["event_id", "line_no"], how="left").reset_index(drop=True)
    is_fs = known["stock_seller_id"].notna()

    # the custodian at the line's instant (submitted lines): the custody period holding it;
    # zero-length periods (several transfers at one instant) hold nothing
    held = intervals[
        intervals["valid_to"].isna() | (intervals["valid_to"] > intervals["valid_from"])
    ]
    held = held[held["valid_from"].notna()][["item_id", "valid_from", "custodian_id"]]
    when = known[known["is_submitted"] & known["line_at"].notna()][["item_id", "line_at"]]
    when = when.assign(pos=when.index).sort_values("line_at", kind="stable")
    held = held.assign(valid_from=held["valid_from"].astype(when["line_at"].dtype))
    found = pd.merge_asof(when, held.sort_values("valid_from", kind="stable"),
                          left_on="line_at", right_on="valid_from", by="item_id")  # fmt: skip
    custodian = pd.Series(found["custodian_id"].to_numpy(), index=found["pos"]).reindex(known.index)
    known["custodian_at_use"] = custodian

    sub, cons, nc = known["is_submitted"], known["is_consuming"], known["no_charge"]
    etype = known["event_type"]
    usage_class = np.select(
        [~sub, ~cons, etype.eq("STOCKING_ORDER") & nc, etype.eq("STOCKING_ORDER"),
         etype.ne("CASE"), is_fs, nc],
        ["NOT_SUBMITTED", "NOT_CONSUMED", "NO_CHARGE", "SALE", "NON_SALE_EVENT",
         "NON_SALE_FACILITY_STOCK", "NO_CHARGE"],
        default="SALE",
    )  # fmt: skip

    # the representative's path at the line's instant, to the seller for facility stock
    # and to the custodian otherwise
    needs = (sub & cons & etype.eq("CASE")).to_numpy(bool)
    asking = known[needs]
    requests = pd.DataFrame(
        {
            "actor_id": asking["representative_id"],
            "target_id": asking["stock_seller_id"].where(is_fs[needs], asking["custodian_at_use"]),
            "checked_at": asking["line_at"],
        }
    )
    access_path = np.full(len(known), None, dtype=object)
    access_path[needs] = best_paths(requests, users, links, sharing)

    price, qty = known["unit_price"].to_numpy(float), known["quantity"].to_numpy(float)
    return pd.DataFrame(
        {
            "event_id": known["event_id"],
            "line_no": known["line_no"],
            "item_id": known["item_id"],
            "usage_class": usage_class,
            "access_path": access_path,
            "custodian_at_use": known["custodian_at_use"],
            # unit_price has cents: price x quantity in whole cents, then back to money
            "expected_amount": np.where(
                usage_class == "SALE", np.round(price * 100) * qty / 100, 0.0
            ),
        }
    )


BASELINES = {
    "fct_custody_intervals": custody_intervals,
    "fct_facility_stock_access": facility_stock_access,
    "fct_event_lines": event_lines,
}


def compute(con: duckdb.DuckDBPyConnection, mart: str, fetch: bool = True) -> pd.DataFrame:
    """``con`` is an in-memory connection with the warehouse attached as ``w``; the mart is a
    DataFrame either way (``fetch`` is for the DuckDB scripts, which keep it in a table)."""
    return BASELINES[mart](con)
