"""The custody mart in plain pandas (no dbt, no SQL beyond reading the raw tables).

Straightforward: read each raw table into a DataFrame, keep the newest version per key by
sorting, then sort/groupby/cumsum for the item deactivations and the custody periods.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

ORDER = ["updated_at", "_file_id", "_row_number"]


def _raw(con: duckdb.DuckDBPyConnection, table: str, cols: list[str]) -> pd.DataFrame:
    return con.execute(f"select {', '.join(cols)} from w.raw.{table}").df()


def _newest(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    df = df.sort_values(ORDER, ascending=False, na_position="last", kind="stable")
    return df.drop_duplicates(subset=key, keep="first")


def _trim(s: pd.Series) -> pd.Series:
    return s.str.strip()


def custody_intervals(con: duckdb.DuckDBPyConnection, fetch: bool = True) -> pd.DataFrame:
    items = _newest(
        _raw(con, "inventory_items",
             ["item_id", "catalog_number", "quantity", "initial_custodian_id", "created_at",
              *ORDER]),
        ["item_id"],
    )  # fmt: skip
    items = pd.DataFrame(
        {
            "item_id": _trim(items["item_id"]),
            "catalog_number": _trim(items["catalog_number"]),
            "item_quantity": items["quantity"].fillna(0),
            "initial_custodian_id": _trim(items["initial_custodian_id"]),
            "created_at": items["created_at"],
        }
    )
    products = _newest(_raw(con, "products", ["catalog_number", "is_single_use", *ORDER]),
                       ["catalog_number"])  # fmt: skip
    products = pd.DataFrame(
        {"catalog_number": _trim(products["catalog_number"]),
         "is_single_use": products["is_single_use"]}
    )  # fmt: skip
    events = _newest(
        _raw(con, "events",
             ["event_id", "event_type", "status", "deactivate_on_submit", "event_date",
              "submitted_at", *ORDER]),
        ["event_id"],
    )  # fmt: skip
    etype = _trim(events["event_type"]).str.upper()
    events = pd.DataFrame(
        {
            "event_id": _trim(events["event_id"]),
            "event_type": etype,
            "is_submitted": _trim(events["status"])
            .str.upper()
            .isin(["CLOSED", "COMPLETED", "PAID"]),
            "deactivate_on_submit": events["deactivate_on_submit"].fillna(False).astype(bool),
            "line_at": events["event_date"].where(
                etype == "CASE", events["submitted_at"].fillna(events["updated_at"])
            ),
        }
    )
    lines = _newest(
        _raw(con, "event_lines", ["event_id", "line_no", "item_id", "quantity", "usage_status",
                                  *ORDER]),
        ["event_id", "line_no"],
    )  # fmt: skip
    lines = pd.DataFrame(
        {
            "event_id": _trim(lines["event_id"]),
            "line_no": lines["line_no"],
            "item_id": _trim(lines["item_id"]),
            "quantity": lines["quantity"].fillna(0),
            "is_consuming": _trim(lines["usage_status"])
            .str.upper()
            .isin(["USED", "IMPLANTED", "IN_OUT", "DAMAGED_WASTE"]),
        }
    )

    # --- deactivation of each item by its lines
    eff = lines.merge(events, on="event_id").merge(items, on="item_id")
    eff = eff[eff["is_submitted"] & eff["is_consuming"] & eff["line_at"].notna()]
    eff = eff.merge(products, on="catalog_number", how="left")
    eff["is_single_use"] = eff["is_single_use"].fillna(True).astype(bool)
    eff = eff.sort_values(["item_id", "line_at", "event_id", "line_no"], kind="stable")
    eff = eff.reset_index(drop=True)
    after = (eff["line_at"] >= eff["created_at"]).to_numpy()
    so = (eff["event_type"] == "STOCKING_ORDER").to_numpy()
    direct = eff["deactivate_on_submit"].to_numpy()
    g = eff.groupby("item_id", sort=False)
    eff["item_seq"] = g.cumcount() + 1
    eff["starts"] = (after & so & ~direct).astype(np.int64)
    eff["stock_epoch"] = eff.groupby("item_id", sort=False)["starts"].cumsum()
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
    deact = after & ((so & direct) | (takes & (left <= 0)))
    first = eff[deact].drop_duplicates("item_id", keep="first")
    deactivations = first[["item_id", "line_at"]].rename(columns={"line_at": "deactivated_at"})

    # --- custody periods
    transfers = _newest(
        _raw(con, "transfers", ["transfer_id", "item_id", "to_custodian_id", "status",
                                "responded_at", "created_at", *ORDER]),
        ["transfer_id"],
    )  # fmt: skip
    transfers = pd.DataFrame(
        {
            "transfer_id": _trim(transfers["transfer_id"]),
            "item_id": _trim(transfers["item_id"]),
            "custodian_id": _trim(transfers["to_custodian_id"]),
            "status": _trim(transfers["status"]).str.upper(),
            "moved_at": transfers["responded_at"]
            .fillna(transfers["updated_at"])
            .fillna(transfers["created_at"]),
        }
    )
    accepted = transfers[transfers["status"] == "ACCEPTED"].merge(
        items[["item_id", "created_at"]], on="item_id"
    )
    accepted = accepted.merge(deactivations, on="item_id", how="left")
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
    users = _newest(_raw(con, "users", ["user_id", "role", *ORDER]), ["user_id"])
    roles = pd.Series(_trim(users["role"]).str.upper().to_numpy(), index=_trim(users["user_id"]))
    roles = roles[~roles.index.duplicated()]
    role = moves["custodian_id"].map(roles)
    out = pd.DataFrame(
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
    return out
