"""Binance spot public market data: order book depth and best bid/ask per symbol.

``GET /api/v3/depth?symbol=BTCUSDT&limit=N`` gives ``{"bids": [["price","qty"], ...],
"asks": [...]}``; ``GET /api/v3/ticker/bookTicker`` gives the best level of one symbol
(``symbol=``) or of several (``symbols=["A","B"]``) in one request. A spot market
``spot:BTC/USDT`` is symbol ``BTCUSDT``; its levels become ads with no order limits and no
payment methods, so the same book walk prices spot and P2P alike.

Spot has no side inversion: bids are bids. Errors come as ``{"code": -1121, "msg": ...}``
with a 4xx status (a business no, see ``errors``); 418/429 carry ``Retry-After``. A bad
level (non-numeric, zero or negative) is skipped and counted like a bad P2P ad.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import requests

from backend import resilience
from backend.config import Settings
from backend.market.book import Ad, Book, Market
from backend.market.errors import (
    BadAd,
    BadReply,
    EmptyBook,
    UpstreamHTTPError,
    UpstreamRejected,
    decimal_of,
)
from backend.ops import metrics

log = logging.getLogger(__name__)

UPSTREAM = "binance_spot"
DEPTH_PATH = "/api/v3/depth"
TICKER_PATH = "/api/v3/ticker/bookTicker"


@dataclass(frozen=True)
class Ticker:
    """Best bid/ask of one symbol; a side Binance reports as zero (empty) is None."""

    symbol: str
    bid: Decimal | None
    bid_qty: Decimal
    ask: Decimal | None
    ask_qty: Decimal


def spot_body(response: requests.Response) -> object:
    """JSON of a 2xx reply; a ``{"code","msg"}`` 4xx is a rejection, other 4xx an HTTP error."""
    if response.status_code < 400:
        return resilience.json_of(response, UPSTREAM)
    try:
        body = resilience.json_of(response, UPSTREAM)
    except BadReply:
        body = None
    if isinstance(body, dict) and "code" in body:
        raise UpstreamRejected(str(body["code"]), str(body.get("msg") or ""))
    raise UpstreamHTTPError(
        response.status_code, f"{UPSTREAM} answered HTTP {response.status_code}"
    )


def parse_levels(levels: object, symbol: str, side: str) -> tuple[Ad, ...]:
    """``[["price","qty"], ...]`` -> ads, best first as Binance sends them; bad levels skipped."""
    if not isinstance(levels, list):
        raise BadReply(f"{UPSTREAM} depth for {symbol}: {side} is not a list", reason="bad_shape")
    ads = []
    for i, level in enumerate(levels):
        try:
            if not isinstance(level, list) or len(level) < 2:
                raise BadAd(f"level {level!r} is not [price, qty]", reason="bad_shape")
            price = decimal_of(level[0], "price")
            qty = decimal_of(level[1], "qty")
            if price <= 0 or qty <= 0:
                raise BadAd(f"level {level!r} is not positive", reason="non_positive")
        except BadAd as exc:
            log.warning("%s %s %s level %d skipped: %s", UPSTREAM, symbol, side, i, exc)
            metrics.BAD_REPLIES.labels(upstream=UPSTREAM, scope="ad", reason=exc.reason).inc()
            continue
        ads.append(Ad(f"{symbol}-{side[0]}{i:02d}", price, qty, Decimal("0"), None, ()))
    return tuple(ads)


def parse_depth(body: object, symbol: str) -> tuple[tuple[Ad, ...], tuple[Ad, ...]]:
    """(asks, bids) of a depth reply; EmptyBook when neither side has a usable level."""
    if not isinstance(body, dict) or "bids" not in body or "asks" not in body:
        raise BadReply(f"{UPSTREAM} depth for {symbol} has no bids/asks", reason="bad_shape")
    asks = parse_levels(body["asks"], symbol, "asks")
    bids = parse_levels(body["bids"], symbol, "bids")
    if not asks and not bids:
        if body["asks"] or body["bids"]:
            raise BadReply(f"{UPSTREAM} depth for {symbol}: no valid level", reason="no_valid_ad")
        raise EmptyBook(f"{UPSTREAM} depth for {symbol} is empty")
    return asks, bids


def parse_ticker(body: object) -> Ticker:
    if not isinstance(body, dict) or not isinstance(body.get("symbol"), str):
        raise BadReply(f"{UPSTREAM} bookTicker is not an object with a symbol", reason="bad_shape")
    symbol = body["symbol"]
    try:
        bid, bid_qty, ask, ask_qty = (
            decimal_of(body.get(field), field)
            for field in ("bidPrice", "bidQty", "askPrice", "askQty")
        )
    except BadAd as exc:
        raise BadReply(f"{UPSTREAM} bookTicker {symbol}: {exc}", reason=exc.reason) from None
    if min(bid, ask, bid_qty, ask_qty) < 0:
        raise BadReply(f"{UPSTREAM} bookTicker {symbol} is negative", reason="non_positive")
    return Ticker(symbol, bid or None, bid_qty, ask or None, ask_qty)


class BinanceSpot:
    """Spot market data behind the ``binance`` source (``Market.venue == spot``)."""

    name = "binance"

    def __init__(
        self,
        settings: Settings,
        *,
        upstream: resilience.Upstream | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.upstream = upstream or resilience.upstream(
            UPSTREAM, settings.binance_spot_url, settings, settings.binance_spot_rate_per_second
        )
        self.clock = clock

    def _get(self, path: str, params: dict, parse: Callable[[object], object]):
        def attempt():
            return parse(spot_body(self.upstream.send("GET", path, params=params)))

        return self.upstream.call(attempt)

    def depth(self, symbol: str, limit: int | None = None) -> tuple[tuple[Ad, ...], tuple[Ad, ...]]:
        """(asks, bids) of ``symbol``, best first, at most ``limit`` levels per side."""
        params = {"symbol": symbol, "limit": limit or self.settings.spot_book_depth}
        return self._get(DEPTH_PATH, params, lambda body: parse_depth(body, symbol))

    def fetch(self, market: Market) -> Book:
        asks, bids = self.depth(market.symbol)
        return Book(market, asks, bids, self.clock(), self.name).sorted()

    def fetch_side(self, market: Market, taker_side: str) -> tuple[Ad, ...]:
        """One depth request returns both sides anyway."""
        return self.fetch(market).side(taker_side)

    def book_ticker(self, symbol: str) -> Ticker:
        return self._get(TICKER_PATH, {"symbol": symbol}, parse_ticker)

    def book_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]:
        """Best bid/ask of every symbol the desk watches (``SPOT_SYMBOLS``), one request."""
        wanted = symbols if symbols is not None else self.settings.spot_symbols
        params = {"symbols": json.dumps(wanted, separators=(",", ":"))}

        def parse(body: object) -> dict[str, Ticker]:
            if not isinstance(body, list):
                raise BadReply(f"{UPSTREAM} bookTicker list is not a list", reason="bad_shape")
            return {t.symbol: t for t in map(parse_ticker, body)}

        return self._get(TICKER_PATH, params, parse)
