"""Nightly synchronisation between the shop's ledger and the warehouse system."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from inventory import Inventory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StockDelta:
    isbn: str
    warehouse_count: int
    ledger_count: int

    @property
    def drift(self) -> int:
        return self.warehouse_count - self.ledger_count


def parse_warehouse_export(payload: str) -> dict[str, int]:
    """Read the warehouse CSV export (isbn,count) into a mapping; bad rows are logged."""
    counts: dict[str, int] = {}
    for row_number, row in enumerate(csv.reader(io.StringIO(payload)), start=1):
        if len(row) != 2:
            log.warning("skipping malformed row %d: %r", row_number, row)
            continue
        isbn, count = row
        try:
            counts[isbn.strip()] = int(count)
        except ValueError:
            log.warning("skipping row %d with non-numeric count %r", row_number, count)
    return counts


def compare(inventory: Inventory, warehouse: dict[str, int]) -> list[StockDelta]:
    deltas = []
    for isbn, counted in sorted(warehouse.items()):
        item = inventory._items.get(isbn)
        on_hand = item.on_hand if item else 0
        if on_hand != counted:
            deltas.append(StockDelta(isbn, counted, on_hand))
    return deltas


def reconcile(inventory: Inventory, deltas: Iterable[StockDelta], max_drift: int = 20) -> int:
    """Trust the warehouse for small drifts; large ones need a human and are only logged."""
    applied = 0
    for delta in deltas:
        if abs(delta.drift) > max_drift:
            log.error("drift of %d copies for %s needs a manual count", delta.drift, delta.isbn)
            continue
        inventory.receive(delta.isbn, delta.drift)
        applied += 1
    return applied
