"""Corridor rates: what the house can pay out in B for each unit of A, through USDT.

A corridor A->B is a remittance: the house takes A from its client, buys USDT with it on
P2P (walking the asks of USDT/A), sells that USDT for B (walking the bids of USDT/B) and
pays B out. At a ticket of ``size_usd``:

    implied rate (B per A) = B received / A spent
                           = eff_bid(USDT/B) * (1 - fee) ** 2 / eff_ask(USDT/A)

after the P2P taker fee on both legs. The client rate is the implied rate less the
house's margin. Both are rounded down, in the house's favour: a quote must never promise
more than the books pay. Pure functions; the books and margins come from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from backend.market.book import Book
from backend.market.pricing import walk
from backend.trading.refusals import N_, Reason

ANCHOR = "USDT"
RATE_PLACES = Decimal("1e-8")


# Why a corridor has no rate, or a stale one: English here (the API), translated where a
# page shows it (dashboard/pages/rates.py reads a reason back against these).
STALE_BOOKS = Reason(N_("stale books: {markets}"))
NO_BOOK = Reason(N_("no book for {markets}"))
ASKS_SHORT = Reason(N_("{market} asks cannot fill {size} USDT"))
BIDS_SHORT = Reason(N_("{market} bids cannot take {size} USDT"))
REASONS = (STALE_BOOKS, NO_BOOK, ASKS_SHORT, BIDS_SHORT)


def label(key: str) -> str:
    """``COP->VES`` as people read it, ``COP → VES``; other text unchanged."""
    return key.replace("->", " → ")


@dataclass(frozen=True, order=True)
class Corridor:
    source: str  # the fiat the client pays in
    target: str  # the fiat the client receives

    @classmethod
    def parse(cls, text: str) -> Corridor:
        """``COP->VES`` -> Corridor; ValueError naming the expected shape."""
        source, sep, target = text.strip().upper().partition("->")
        if not sep or not source.isalpha() or not target.isalpha() or source == target:
            raise ValueError(f"corridor {text!r} is not of the form COP->VES")
        return cls(source, target)

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    @property
    def label(self) -> str:
        """What a reader sees (grids, the client message): ``name`` stays the API's key."""
        return label(self.name)

    @property
    def buy_market(self) -> str:
        return f"p2p:{ANCHOR}/{self.source}"

    @property
    def sell_market(self) -> str:
        return f"p2p:{ANCHOR}/{self.target}"


@dataclass(frozen=True)
class CorridorRate:
    corridor: Corridor
    size_usd: Decimal
    margin: Decimal
    implied_rate: Decimal | None  # target per source; None when a book cannot fill
    client_rate: Decimal | None
    buy_price: Decimal | None  # source fiat per USDT, at size
    sell_price: Decimal | None  # target fiat per USDT, at size
    age_seconds: float | None  # of the older of the two books
    stale: bool
    reason: str | None  # why there is no rate, or why it is stale


def _plain(value: Decimal) -> str:
    """An amount for a sentence: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def _down(value: Decimal) -> Decimal:
    return value.quantize(RATE_PLACES, rounding=ROUND_DOWN)


def quote(
    corridor: Corridor,
    books: dict[str, Book],
    stale_markets: set[str],
    size_usd: Decimal,
    fee: Decimal,
    margin: Decimal,
    now: datetime,
) -> CorridorRate:
    """The corridor's rates at ``size_usd`` of USDT, from the latest books."""
    buy, sell = books.get(corridor.buy_market), books.get(corridor.sell_market)
    missing = [m for m, b in ((corridor.buy_market, buy), (corridor.sell_market, sell)) if not b]

    def result(implied=None, buy_price=None, sell_price=None, reason=None) -> CorridorRate:
        ages = [b.age_seconds(now) for b in (buy, sell) if b is not None]
        stale = sorted({corridor.buy_market, corridor.sell_market} & stale_markets)
        why = reason or (STALE_BOOKS(markets=", ".join(stale)) if stale else None)
        return CorridorRate(
            corridor=corridor,
            size_usd=size_usd,
            margin=margin,
            implied_rate=None if implied is None else _down(implied),
            client_rate=None if implied is None else _down(implied * (1 - margin)),
            buy_price=buy_price,
            sell_price=sell_price,
            age_seconds=max(ages) if ages else None,
            stale=bool(stale) or bool(missing),
            reason=why,
        )

    if missing:
        return result(reason=NO_BOOK(markets=", ".join(missing)))
    bought = walk(buy.asks, size_usd)  # USDT bought with the source fiat
    if not bought.complete:
        return result(reason=ASKS_SHORT(market=corridor.buy_market, size=size_usd))
    usdt = bought.quantity * (1 - fee)
    sold = walk(sell.bids, usdt)
    if not sold.complete:
        return result(reason=BIDS_SHORT(market=corridor.sell_market, size=_plain(usdt)))
    received = sold.amount * (1 - fee)
    return result(received / bought.amount, bought.price, sold.price)


def board(session, cache, settings, now: datetime, size_usd: Decimal) -> list[CorridorRate]:
    """Every configured corridor, quoted on the latest books with its margin."""
    from backend.market import latest
    from backend.trading import controls

    corridors = [Corridor.parse(c) for c in settings.corridors]
    keys = sorted({m for c in corridors for m in (c.buy_market, c.sell_market)})
    books = latest.get_many(session, cache, keys)
    stale = latest.stale(session, books, keys, now, settings.stale_after_seconds)
    margins = controls.margins(session)
    return [
        quote(
            c,
            books,
            stale,
            size_usd,
            settings.p2p_taker_fee,
            margins.get(c.name, settings.corridor_margin),
            now,
        )
        for c in corridors
    ]


def as_json(rate: CorridorRate) -> dict:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "corridor": rate.corridor.name,
        "source": rate.corridor.source,
        "target": rate.corridor.target,
        "size_usd": str(rate.size_usd),
        "implied_rate": text(rate.implied_rate),
        "client_rate": text(rate.client_rate),
        "margin": str(rate.margin),
        "buy_price": text(rate.buy_price),
        "sell_price": text(rate.sell_price),
        "age_seconds": None if rate.age_seconds is None else round(rate.age_seconds, 2),
        "stale": rate.stale,
        "reason": rate.reason,
    }
