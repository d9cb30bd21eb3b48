"""Number formatting for traders: prices at the precision their market quotes."""

from __future__ import annotations

from decimal import Decimal


def number(value: str | Decimal | None, places: int = 2) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.{places}f}"


def price(value: str | Decimal | None) -> str:
    """Small prices (BRL, PEN, USD) need more decimals than VES or BTC/VES."""
    if value is None:
        return "—"
    d = Decimal(value)
    return number(d, 4 if abs(d) < 10 else 2)
