"""Numbers for traders: each currency at its own precision, always with its unit.

BTC (and other coins) 8 decimals; dollar stablecoins at least 2 and up to 6, so a fee of
0.000312 USDT is not shown as 0.00; fiat 2. Prices are quoted in their quote currency per
unit of the base ("36.52 VES/USDT") with enough decimals that small quotes keep meaning.
"""

from __future__ import annotations

from decimal import Decimal

from backend.market.book import Market
from dashboard.i18n import _, decimal

COINS = frozenset({"BTC", "ETH", "BNB"})
STABLES = frozenset({"USDT", "USDC", "FDUSD", "DAI"})
MISSING = "—"


def places(currency: str) -> tuple[int, int]:
    """(least, most) decimals an amount of ``currency`` is shown with."""
    if currency in COINS:
        return 8, 8
    if currency in STABLES:
        return 2, 6
    return 2, 2


def amount(value: str | Decimal | None, currency: str) -> str:
    """``value`` in ``currency``: "0.00012345 BTC", "1,250.50 VES"."""
    if value is None:
        return MISSING
    return f"{decimal(value, *places(currency))} {currency}"


def depth(value: str | Decimal | None, currency: str) -> str:
    """A quantity on offer: the currency's fewest decimals (USDT 2, BTC 8), its unit."""
    if value is None:
        return MISSING
    return f"{decimal(value, places(currency)[0])} {currency}"


def price(value: str | Decimal | None, quote: str, base: str) -> str:
    """A price of one ``base`` in ``quote``: quote's precision, more for small quotes."""
    if value is None:
        return MISSING
    d = Decimal(value)
    least, most = places(quote)
    if quote not in COINS and abs(d) < 10:
        least, most = max(least, 4), max(most, 4)
    return f"{decimal(d, least, most)} {quote}/{base}"


def usd(value: str | Decimal | None) -> str:
    return amount(value, "USD")


def number(value: str | Decimal | None, places: int = 2, unit: str = "") -> str:
    """A plain quantity with a unit of its own (bps, %, s)."""
    if value is None:
        return MISSING
    return decimal(value, places) + (f" {unit}" if unit else "")


def bps(value: str | Decimal | None) -> str:
    return number(value, 1, "bps")


def percent(value: str | Decimal | None, places: int = 2) -> str:
    return number(value, places, "%")


def seconds(value: float | None) -> str:
    return MISSING if value is None else number(Decimal(int(value)), 0, "s")


def market_price(value: str | Decimal | None, market: str) -> str:
    """A price on market ``p2p:USDT/VES``: VES per USDT."""
    m = Market.parse(market)
    return price(value, m.fiat, m.asset)


def side(value: str, market: str) -> str:
    """A leg's side as a trader says it: "buy USDT", "sell BTC" (in their language)."""
    asset = Market.parse(market).asset
    return _("buy %(asset)s", asset=asset) if value == "BUY" else _("sell %(asset)s", asset=asset)


def market_name(key: str) -> str:
    """A market as the pages name it: "USDT/VES", "BTC/USDT spot"."""
    return Market.parse(key).label
