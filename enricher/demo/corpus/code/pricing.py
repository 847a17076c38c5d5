"""Prices, discounts and VAT for the checkout."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

VAT_RATE = Decimal("0.20")
MEMBER_DISCOUNT = Decimal("0.10")


def round_money(amount: Decimal) -> Decimal:
    """Round to cents the way the accountants do: half up, never banker's rounding."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def apply_discount(price: Decimal, is_member: bool, coupon_percent: int = 0) -> Decimal:
    """Member discount and coupon stack multiplicatively, never below zero."""
    if not 0 <= coupon_percent <= 100:
        raise ValueError(f"coupon percent out of range: {coupon_percent}")
    factor = (Decimal(1) - MEMBER_DISCOUNT) if is_member else Decimal(1)
    factor *= Decimal(1) - Decimal(coupon_percent) / 100
    return round_money(max(Decimal(0), price * factor))


def with_vat(net: Decimal, rate: Decimal = VAT_RATE) -> Decimal:
    return round_money(net * (1 + rate))


def shipping_cost(total_weight_grams: int, express: bool = False) -> Decimal:
    """Flat rate up to a kilo, then per started 500 g; express doubles it."""
    base = Decimal("3.50")
    extra_steps = max(0, -(-(total_weight_grams - 1000) // 500))
    cost = base + Decimal("1.20") * extra_steps
    return round_money(cost * 2 if express else cost)
