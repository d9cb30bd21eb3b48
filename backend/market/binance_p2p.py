"""Binance P2P public ad search: the ``binance`` source.

``POST {BINANCE_P2P_URL}/bapi/c2c/v2/friendly/c2c/adv/search`` with
``{"asset","fiat","tradeType","page","rows","payTypes","publisherType","transAmount"}``.

The side inversion lives here and nowhere else. ``tradeType`` is the *taker's* side:
``tradeType=BUY`` ("I want to buy USDT") returns the ads of advertisers who sell
(``adv.tradeType == "SELL"``), which are our **asks**, cheapest first; ``tradeType=SELL``
returns advertisers who buy (``adv.tradeType == "BUY"``), our **bids**, dearest first. So
``fetch_side(market, "BUY")`` sends ``tradeType=BUY`` and returns asks, exactly what
``Book.side("BUY")`` would. An ad whose ``adv.tradeType`` contradicts the side we asked
for is dropped as a bad ad: storing it would be the classic swapped-book bug. So is one
whose ``adv.asset`` or ``adv.fiatUnit`` names another market than the one searched: its
prices are in another currency.

Pagination: ``rows`` is at most 20; pages follow until ``P2P_BOOK_DEPTH`` ads, ``total``,
a short page, or a page with no ad number we have not seen (a server that ignores
``page`` must not make us loop or double-count).

Filters are sent to Binance (``payTypes``, ``publisherType=merchant``, ``transAmount``)
and applied again locally (``filters``): the search is a public endpoint whose filtering
we do not control, and completion rate / monthly orders have no request field at all.

Bad replies (each a typed error from ``errors``, counted in ``external_api_errors_total``
and ``market_bad_replies_total``): ``success:false`` -> UpstreamRejected (code and
message; a breaker failure unless its code is in REQUEST_CODES), as is ``success:true``
with a ``code`` other than ``000000``;
``success:true`` with no ads (``data: []``) -> EmptyBook; HTML, malformed JSON, or
``data`` missing or null -> BadReply.
A single malformed ad (missing or non-numeric field, price or quantity not positive, min
above max, wrong side or market, a number a Money column cannot hold exactly, an ``advNo``
already on the page, no payment method named: it would read as taking any) is skipped with a
warning and a ``scope="ad"`` count while the rest of the page is kept: one advertiser's
broken ad should not blank a whole market, and dropping liquidity can only make the walk
more conservative, never wrong. A page whose ads are *all* malformed is a BadReply.
Which of these count against the circuit breaker is explained in ``errors``.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import requests

from backend import resilience
from backend.config import Settings
from backend.market import filters
from backend.market.binance_spot import BinanceSpot
from backend.market.book import Ad, Advertiser, Book, Market, Venue
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

UPSTREAM = "binance_p2p"
SEARCH_PATH = "/bapi/c2c/v2/friendly/c2c/adv/search"
MAX_ROWS = 20
SIDES = ("BUY", "SELL")
# Taker side (= request tradeType) -> what the advertisers on that side do.
ADVERTISER_SIDE = {"BUY": "SELL", "SELL": "BUY"}
MAX_AD_NUMBER = 40  # ad_snapshots.ad_no is VARCHAR(40)
MAX_MONTH_ORDERS = 2**31 - 1  # ad_snapshots.month_orders is INTEGER
OK_CODE = "000000"  # any other ``code`` is a rejection, even beside ``success:true``
# Rejections that answer this one request (its filter asks for something Binance does not
# offer): they leave the breaker alone. Any other code says P2P is not serving at all.
REQUEST_CODES = frozenset({"083932"})  # payment method unsupported for the fiat


@dataclass(frozen=True)
class Page:
    ads: tuple[Ad, ...]
    ad_numbers: frozenset[str]  # every advNo on the page, good ads or bad
    size: int  # entries in ``data``
    total: int | None


def search_body(
    market: Market, taker_side: str, page: int, rows: int, rules: filters.AdRules
) -> dict:
    return {
        "asset": market.asset,
        "fiat": market.fiat,
        "tradeType": taker_side,
        "page": page,
        "rows": rows,
        "payTypes": list(rules.methods),
        "publisherType": "merchant" if rules.merchant_only else None,
        "transAmount": "" if rules.amount is None else str(rules.amount),
    }


def _ad_number(item: object) -> str | None:
    adv = item.get("adv") if isinstance(item, dict) else None
    number = adv.get("advNo") if isinstance(adv, dict) else None
    return str(number) if isinstance(number, str | int) and str(number) else None


def parse_ad(item: object, taker_side: str, market: Market | None = None) -> Ad:
    """One ``{"adv", "advertiser"}`` entry -> Ad, or BadAd with a reason; with ``market``,
    an ad naming another asset or fiat (``adv.asset``, ``adv.fiatUnit``) is one."""
    adv = item.get("adv") if isinstance(item, dict) else None
    who = item.get("advertiser") if isinstance(item, dict) else None
    if not isinstance(adv, dict) or not isinstance(who, dict):
        raise BadAd("entry has no adv/advertiser object", reason="missing_field")
    number = _ad_number(item)
    if number is None:
        raise BadAd("adv.advNo is missing", reason="missing_field")
    if len(number) > MAX_AD_NUMBER:  # the snapshot's key column: a longer one failed the insert
        raise BadAd(f"adv.advNo {number[:40]!r}... is too long", reason="out_of_range")
    side = adv.get("tradeType")
    if side is not None and side != ADVERTISER_SIDE[taker_side]:
        raise BadAd(
            f"ad {number} is a {side} ad in a tradeType={taker_side} search", reason="wrong_side"
        )
    if market is not None:
        for field, wanted in (("asset", market.asset), ("fiatUnit", market.fiat)):
            named = adv.get(field)
            if named is not None and str(named).upper() != wanted:
                raise BadAd(
                    f"ad {number} has {field} {str(named)[:20]!r} in a {market.key} search",
                    reason="wrong_market",
                )
    price = decimal_of(adv.get("price"), "adv.price")
    quantity_field = (
        "tradableQuantity" if adv.get("tradableQuantity") is not None else "surplusAmount"
    )
    quantity = decimal_of(adv.get(quantity_field), f"adv.{quantity_field}")
    low = decimal_of(adv.get("minSingleTransAmount"), "adv.minSingleTransAmount")
    high = decimal_of(adv.get("maxSingleTransAmount"), "adv.maxSingleTransAmount")
    # What one order can take right now (the advertiser's balance and Binance's own
    # limits): never walk past it.
    if adv.get("dynamicMaxSingleTransQuantity") is not None:
        cap = decimal_of(adv["dynamicMaxSingleTransQuantity"], "adv.dynamicMaxSingleTransQuantity")
        quantity = min(quantity, cap) if cap > 0 else quantity
    if adv.get("dynamicMaxSingleTransAmount") is not None:
        cap = decimal_of(adv["dynamicMaxSingleTransAmount"], "adv.dynamicMaxSingleTransAmount")
        high = min(high, cap) if cap >= low else high
    if price <= 0:
        raise BadAd(f"ad {number} has price {price}", reason="non_positive_price")
    if quantity <= 0:
        raise BadAd(f"ad {number} has quantity {quantity}", reason="non_positive_quantity")
    if low < 0 or high <= 0 or low > high:
        raise BadAd(f"ad {number} has limits {low}-{high}", reason="bad_limits")
    methods = adv.get("tradeMethods") or []
    if not isinstance(methods, list):
        raise BadAd(f"ad {number}: tradeMethods is not a list", reason="bad_shape")
    identifiers = tuple(
        str(m["identifier"]) for m in methods if isinstance(m, dict) and m.get("identifier")
    )
    if not identifiers:  # an ad with no method would read as taking any (``Ad.accepts``)
        raise BadAd(f"ad {number} names no payment method", reason="no_methods")
    orders = who.get("monthOrderCount")
    rate = who.get("monthFinishRate")
    month_orders = 0 if orders is None else int(decimal_of(orders, "advertiser.monthOrderCount"))
    if not 0 <= month_orders <= MAX_MONTH_ORDERS:  # an INTEGER column, as for advNo
        raise BadAd(f"ad {number} has {month_orders} monthly orders", reason="out_of_range")
    return Ad(
        ad_no=number,
        price=price,
        quantity=quantity,
        min_amount=low,
        max_amount=high,
        methods=identifiers,
        advertiser=Advertiser(
            nick=str(who.get("nickName") or ""),
            user_type=str(who.get("userType") or "user").lower(),
            # Missing stats read as the worst case, so a minimum filter rejects the ad.
            month_orders=month_orders,
            finish_rate=decimal_of(rate, "advertiser.monthFinishRate")
            if rate is not None
            else Decimal("0"),
        ),
    )


def _count(value: object) -> int | None:
    """``total`` as an int; only a finite whole number can end pagination, so NaN,
    Infinity, 4.5, a string or a bool read as no total (they once crashed the parse)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    number = Decimal(value)
    return int(number) if number.is_finite() and number == number.to_integral() else None


def _rejection(code: object, message: object) -> UpstreamRejected:
    """``success:false`` or a code other than OK: only a code in REQUEST_CODES is this
    request's own no; anything else (no code at all included) counts against the breaker."""
    code = str(code)[:40]
    return UpstreamRejected(
        code, str(message or "")[:200], breaker_failure=code not in REQUEST_CODES
    )


def parse_page(body: object, taker_side: str, market: Market | None = None) -> Page:
    """A search reply -> its good ads (of ``market``, when given); rejections and
    malformed replies raise."""
    if not isinstance(body, dict):
        raise BadReply(f"{UPSTREAM} reply is not a JSON object", reason="bad_shape")
    success = body.get("success")
    if success is not True and success is not False:
        raise BadReply(f"{UPSTREAM} reply has no success flag", reason="bad_shape")
    code = body.get("code")
    if success is False or (code is not None and code != OK_CODE):
        raise _rejection(code, body.get("message"))
    data = body.get("data")
    if not isinstance(data, list):  # missing or null too: "no ads" is ``data: []``
        raise BadReply(f"{UPSTREAM} reply data is not a list: {data!r:.40}", reason="bad_shape")
    total = _count(body.get("total"))
    ads: list[Ad] = []
    numbers_kept: set[str] = set()
    for i, item in enumerate(data):
        try:
            ad = parse_ad(item, taker_side, market)
            if ad.ad_no in numbers_kept:
                # Keeping both would count one advertiser's liquidity twice.
                raise BadAd(f"ad {ad.ad_no} appears twice on the page", reason="duplicate")
            numbers_kept.add(ad.ad_no)
            ads.append(ad)
        except BadAd as exc:
            log.warning("%s tradeType=%s entry %d skipped: %s", UPSTREAM, taker_side, i, exc)
            metrics.BAD_REPLIES.labels(upstream=UPSTREAM, scope="ad", reason=exc.reason).inc()
    if data and not ads:
        raise BadReply(
            f"{UPSTREAM} reply has {len(data)} ads and not one is valid", reason="no_valid_ad"
        )
    numbers = frozenset(n for n in map(_ad_number, data) if n is not None)
    return Page(tuple(ads), numbers, len(data), total)


def p2p_body(response: requests.Response) -> object:
    """JSON of the reply; a 4xx carrying a ``success:false`` envelope is still parsed."""
    if response.status_code < 400:
        return resilience.json_of(response, UPSTREAM)
    try:
        body = resilience.json_of(response, UPSTREAM)
    except BadReply:
        body = None
    if isinstance(body, dict) and body.get("success") is False:
        return body
    raise UpstreamHTTPError(
        response.status_code, f"{UPSTREAM} answered HTTP {response.status_code}"
    )


class BinanceP2P:
    """Source ``binance``: P2P books from the ad search, spot markets from ``BinanceSpot``."""

    name = "binance"

    def __init__(
        self,
        settings: Settings,
        *,
        upstream: resilience.Upstream | None = None,
        spot: BinanceSpot | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.upstream = upstream or resilience.upstream(
            UPSTREAM, settings.binance_p2p_url, settings, settings.binance_p2p_rate_per_second
        )
        self._spot = spot
        self.clock = clock

    @property
    def spot(self) -> BinanceSpot:
        """Built on first use, so a P2P-only desk never sets up the spot upstream."""
        if self._spot is None:
            self._spot = BinanceSpot(self.settings, clock=self.clock)
        return self._spot

    def fetch(self, market: Market) -> Book:
        """Both sides (two searches); either failing fails the book: half a book is no book."""
        if market.venue is Venue.SPOT:
            return self.spot.fetch(market)
        asks = self.search(market, "BUY")
        bids = self.search(market, "SELL")
        return Book(market, asks, bids, self.clock(), self.name).sorted()

    def fetch_side(self, market: Market, taker_side: str) -> tuple[Ad, ...]:
        """Only the ads a taker on ``taker_side`` walks, best first; one side requested."""
        if market.venue is Venue.SPOT:
            return self.spot.fetch_side(market, taker_side)
        ads = self.search(market, taker_side)
        return tuple(sorted(ads, key=lambda a: a.price, reverse=taker_side == "SELL"))

    def search(self, market: Market, taker_side: str) -> tuple[Ad, ...]:
        """Page through one side up to the configured depth; filtered, in Binance's order."""
        if taker_side not in SIDES:
            raise ValueError(f"taker side must be BUY or SELL, not {taker_side!r}")
        rules = filters.rules_for(self.settings, market.fiat)
        depth = self.settings.p2p_book_depth
        rows = min(MAX_ROWS, depth)
        ads: list[Ad] = []
        seen: set[str] = set()
        for number in range(1, math.ceil(depth / rows) + 1):
            body = search_body(market, taker_side, number, rows, rules)
            page = self.upstream.call(functools.partial(self._page, body, market))
            fresh = page.ad_numbers - seen
            ads.extend(ad for ad in page.ads if ad.ad_no not in seen)
            seen |= page.ad_numbers
            if (
                not fresh
                or page.size < rows
                or len(seen) >= depth
                or (page.total is not None and number * rows >= page.total)
            ):
                break
        return filters.apply(tuple(ads[:depth]), rules)

    def _page(self, body: dict, market: Market) -> Page:
        """One request and its parse: runs inside the breaker, so bad replies count there."""
        response = self.upstream.send("POST", SEARCH_PATH, json=body)
        page = parse_page(p2p_body(response), body["tradeType"], market)
        if body["page"] == 1 and page.size == 0:
            raise EmptyBook(
                f"{UPSTREAM} has no tradeType={body['tradeType']} ads for "
                f"{body['asset']}/{body['fiat']} (payTypes={body['payTypes']}, "
                f"publisherType={body['publisherType']}, "
                f"transAmount={body['transAmount']!r})"
            )
        return page
