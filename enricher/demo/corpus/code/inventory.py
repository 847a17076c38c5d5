"""Stock levels for the bookshop: reservations, releases and reorder alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

REORDER_THRESHOLD = 5


class OutOfStock(Exception):
    """Raised when a reservation asks for more copies than the shelf holds."""


@dataclass
class StockItem:
    """One title on the shelf: its ISBN, copies on hand and copies reserved."""

    isbn: str
    on_hand: int
    reserved: int = 0
    updated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Inventory:
    """In-memory stock ledger; the warehouse sync writes it back to the database."""

    def __init__(self) -> None:
        self._items: dict[str, StockItem] = {}

    def receive(self, isbn: str, copies: int) -> StockItem:
        """Add delivered copies of a title, creating its ledger entry if needed."""
        item = self._items.setdefault(isbn, StockItem(isbn=isbn, on_hand=0))
        item.on_hand += copies
        item.updated_at = datetime.now(timezone.utc)
        return item

    def reserve(self, isbn: str, copies: int = 1) -> StockItem:
        """Hold copies for an order so two customers cannot buy the last book."""
        item = self._items.get(isbn)
        if item is None or item.available < copies:
            raise OutOfStock(f"{isbn}: {copies} requested, {item.available if item else 0} left")
        item.reserved += copies
        return item

    def release(self, isbn: str, copies: int = 1) -> None:
        """Return held copies to the shelf when an order is cancelled or expires."""
        item = self._items[isbn]
        item.reserved = max(0, item.reserved - copies)

    def ship(self, isbn: str, copies: int = 1) -> None:
        item = self._items[isbn]
        item.reserved -= copies
        item.on_hand -= copies

    def low_stock(self, threshold: int = REORDER_THRESHOLD) -> list[StockItem]:
        """Titles whose available copies fell to the reorder threshold."""
        return sorted(
            (item for item in self._items.values() if item.available <= threshold),
            key=lambda item: item.available,
        )


def reorderQuantity(item: StockItem, weeklySales: float, leadTimeWeeks: float = 2.0) -> int:
    """Copies to order so stock covers sales over the supplier's lead time plus a buffer."""
    target = weeklySales * (leadTimeWeeks + 1)
    return max(0, round(target - item.available))
