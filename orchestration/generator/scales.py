"""Scale presets of the generator: sizes of the simulated organization."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    items: int  # inventory items of the clean history (faults add a few more)
    transfers_per_item: float  # mean transfers per item (accepted + pending/declined/hold)
    sales: int  # login SALES users
    custodian_only_sales: int
    full_distributors: int
    custodian_only_distributors: int
    admins: int  # ADMIN users (plus one PRIMARY_ADMIN)
    operations: int
    regional_managers: int
    facilities: int
    products: int
    files: int  # delivery files per entity


SCALES: dict[str, Scale] = {
    "tiny": Scale(2_000, 6, 30, 2, 3, 3, 2, 2, 2, 15, 60, 3),
    "small": Scale(100_000, 10, 400, 10, 25, 20, 4, 4, 8, 250, 800, 6),
    "medium": Scale(1_000_000, 10, 3_000, 40, 150, 100, 8, 8, 30, 1_500, 3_000, 10),
    "large": Scale(3_000_000, 10, 8_000, 100, 400, 300, 12, 12, 80, 4_000, 6_000, 16),
}
