"""Normalized order books: what every source (simulator, Binance, replay) returns.

Binance inverts the sides: a P2P search with ``tradeType=BUY`` returns the ads of
advertisers who *sell* (our asks), ``tradeType=SELL`` those who buy (our bids). Here a
book only ever says ``asks`` (we buy from them, cheapest first) and ``bids`` (we sell to
them, dearest first); the inversion lives in the Binance client alone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Venue(StrEnum):
    P2P = "p2p"
    SPOT = "spot"


@dataclass(frozen=True, order=True)
class Market:
    venue: Venue
    asset: str
    fiat: str

    @classmethod
    def parse(cls, key: str) -> Market:
        """``p2p:USDT/VES`` -> Market; raises ValueError with the expected shape."""
        return _parse(key)

    @classmethod
    def _from_key(cls, key: str) -> Market:
        venue, sep, pair = key.partition(":")
        asset, slash, fiat = pair.partition("/")
        if not (sep and slash and asset and fiat) or venue not in Venue.__members__.values():
            raise ValueError(f"market {key!r} is not of the form p2p:USDT/VES or spot:BTC/USDT")
        return cls(Venue(venue), asset.upper(), fiat.upper())

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.asset}/{self.fiat}"

    @property
    def label(self) -> str:
        suffix = " spot" if self.venue is Venue.SPOT else ""
        return f"{self.asset}/{self.fiat}{suffix}"

    @property
    def symbol(self) -> str:
        """Binance spot symbol, e.g. BTCUSDT."""
        return f"{self.asset}{self.fiat}"


@functools.lru_cache(maxsize=4096)
def _parse(key: str) -> Market:
    """Markets are parsed in every leg of every cycle the scan tries: once per key is enough."""
    return Market._from_key(key)


@dataclass(frozen=True)
class Advertiser:
    nick: str
    user_type: str = "user"  # "merchant" or "user"
    month_orders: int = 0
    finish_rate: Decimal = Decimal("1")


@dataclass(frozen=True)
class Ad:
    """One executable offer. Limits are in fiat per order; quantity is in the asset."""

    ad_no: str
    price: Decimal
    quantity: Decimal
    min_amount: Decimal = Decimal("0")
    max_amount: Decimal | None = None
    methods: tuple[str, ...] = ()
    advertiser: Advertiser = field(default_factory=lambda: Advertiser(nick=""))

    def accepts(self, method: str | None) -> bool:
        return method is None or not self.methods or method in self.methods

    def to_dict(self) -> dict:
        return {
            "ad_no": self.ad_no,
            "price": str(self.price),
            "quantity": str(self.quantity),
            "min_amount": str(self.min_amount),
            "max_amount": None if self.max_amount is None else str(self.max_amount),
            "methods": list(self.methods),
            "advertiser": {
                "nick": self.advertiser.nick,
                "user_type": self.advertiser.user_type,
                "month_orders": self.advertiser.month_orders,
                "finish_rate": str(self.advertiser.finish_rate),
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> Ad:
        adv = data.get("advertiser") or {}
        return cls(
            ad_no=data["ad_no"],
            price=Decimal(data["price"]),
            quantity=Decimal(data["quantity"]),
            min_amount=Decimal(data.get("min_amount") or "0"),
            max_amount=None if data.get("max_amount") is None else Decimal(data["max_amount"]),
            methods=tuple(data.get("methods") or ()),
            advertiser=Advertiser(
                nick=adv.get("nick", ""),
                user_type=adv.get("user_type", "user"),
                month_orders=int(adv.get("month_orders", 0)),
                finish_rate=Decimal(str(adv.get("finish_rate", "1"))),
            ),
        )


@dataclass(frozen=True)
class Book:
    market: Market
    asks: tuple[Ad, ...]
    bids: tuple[Ad, ...]
    fetched_at: datetime
    source: str

    def sorted(self) -> Book:
        """Asks cheapest first, bids dearest first, whatever order the source used."""
        return replace(
            self,
            asks=tuple(sorted(self.asks, key=lambda a: a.price)),
            bids=tuple(sorted(self.bids, key=lambda a: a.price, reverse=True)),
        )

    def side(self, taker_side: str) -> tuple[Ad, ...]:
        """The ads a taker walks: BUY takes asks, SELL takes bids."""
        return self.asks if taker_side == "BUY" else self.bids

    def age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.fetched_at).total_seconds())

    def to_dict(self) -> dict:
        return {
            "market": self.market.key,
            "fetched_at": self.fetched_at.isoformat(),
            "source": self.source,
            "asks": [a.to_dict() for a in self.asks],
            "bids": [b.to_dict() for b in self.bids],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Book:
        return cls(
            market=Market.parse(data["market"]),
            asks=tuple(Ad.from_dict(a) for a in data["asks"]),
            bids=tuple(Ad.from_dict(b) for b in data["bids"]),
            fetched_at=datetime.fromisoformat(data["fetched_at"]),
            source=data["source"],
        )
