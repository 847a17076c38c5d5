"""Customer orders: creation, payment capture and cancellation."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from inventory import Inventory, OutOfStock


class OrderState(enum.Enum):
    DRAFT = "draft"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class OrderLine:
    isbn: str
    copies: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.copies


@dataclass
class Order:
    """A customer's basket once checked out; lines are fixed, state moves forward."""

    customer_id: str
    lines: list[OrderLine]
    order_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: OrderState = OrderState.DRAFT

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0"))


class OrderService:
    """Coordinates inventory reservations with the payment gateway."""

    def __init__(self, inventory: Inventory, gateway: "PaymentGateway") -> None:
        self.inventory = inventory
        self.gateway = gateway

    def place(self, customer_id: str, lines: list[OrderLine]) -> Order:
        """Reserve every line, or none: a partial reservation is released before raising."""
        reserved: list[OrderLine] = []
        try:
            for line in lines:
                self.inventory.reserve(line.isbn, line.copies)
                reserved.append(line)
        except OutOfStock:
            for line in reserved:
                self.inventory.release(line.isbn, line.copies)
            raise
        return Order(customer_id=customer_id, lines=lines)

    def pay(self, order: Order, card_token: str) -> Order:
        """Capture the payment; the order becomes paid only after the gateway confirms."""
        receipt = self.gateway.capture(card_token, order.total, reference=order.order_id)
        if not receipt.approved:
            raise PaymentDeclined(receipt.reason)
        order.state = OrderState.PAID
        return order

    def cancel(self, order: Order) -> Order:
        if order.state is OrderState.SHIPPED:
            raise ValueError("a shipped order is returned, not cancelled")
        for line in order.lines:
            self.inventory.release(line.isbn, line.copies)
        if order.state is OrderState.PAID:
            self.gateway.refund(order.order_id, order.total)
        order.state = OrderState.CANCELLED
        return order


class PaymentDeclined(Exception):
    """The gateway refused the card; the message is safe to show the customer."""


class PaymentGateway:
    def capture(self, card_token: str, amount: Decimal, reference: str) -> "Receipt":
        raise NotImplementedError

    def refund(self, reference: str, amount: Decimal) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Receipt:
    approved: bool
    reason: str = ""
