"""Live spot legs: MARKET orders through Binance's signed REST API.

The client is ``binance-sdk-spot``, Binance's own maintained modular SDK: it signs with
HMAC-SHA256, takes any base URL (the spot testnet works, and so does the test stub), keeps
Binance's error ``code`` and ``Retry-After`` on typed exceptions, and serializes Decimal
amounts exactly. ``binance-connector`` is deprecated in its favour, and ccxt's unified
layer hides the client order id and error codes this executor relies on.

The SDK's own retries are off; throttling (429, 418) is retried here with tenacity,
waiting what ``Retry-After`` says and giving up past ``HTTP_RETRY_MAX_WAIT_SECONDS``.
Its session reads each reply whole within twice ``LIVE_ORDER_TIMEOUT_SECONDS`` (connect
and read), not just each piece of it within the read timeout.

Every order's ``newClientOrderId`` is derived from the trade and the leg, and the order
is looked up by it before it is placed, so a timeout, a worker killed mid-call or a
redelivered message finds the order Binance already has instead of placing a second one
(Binance only refuses a duplicate id while the first order is still open, and a MARKET
order never is). A placement whose answer never came and that a lookup cannot find yet is
``OrderInDoubt``: the task is retried later and looks again. A lookup answered with any
error but ``-2013`` ("order does not exist": a 429, a ban, ``-1021``, a 5xx, another
4xx) says nothing about the order, so once it may have been placed the leg stays in
doubt, never refused; and "does not exist" is believed only once the placement's
``recvWindow`` has surely passed (Binance refuses it after that), so a request still in
flight is never placed twice. An order (or a throttled retry of it) is not sent past the
leg's ``send_by``, when the worker's claim on the trade could lapse before Binance had it:
the leg is in doubt, and the next attempt looks it up. Fills, the average price
and the commission come from Binance's reply (``fills``, ``executedQty``,
``cummulativeQuoteQty``), or from ``myTrades`` for an order found by lookup.

Binance documents some answers as "execution status unknown": any 5xx, ``-1006`` and
``-1007`` whatever the HTTP status, and an HTTP status its order endpoint does not
document (a 408, a proxy's page); ``-2010`` "Duplicate order sent." means an order with
this client id is open. All of them are looked up, never taken as a refusal. An order
found still working (``NEW``, ``PARTIALLY_FILLED``: a slow match) is in doubt until it is
done; a reply whose fills do not add up to ``executedQty`` (``fills`` empty, ``myTrades``
not caught up) is unreadable, so no commission is guessed; so is one that filled a
quantity for a ``cummulativeQuoteQty`` of zero (or spent quote on nothing), which would
book a free buy or a sell with negative proceeds. A ``418``/``429`` whose
``Retry-After`` is too long to wait stops every call to that Binance until it has passed,
so a worker does not prolong its own ban. Binance counts (and bans) per IP and API key, not
per process: the window is also kept in Redis, so every worker of the house stays quiet.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from binance_common import errors
from binance_common.configuration import ConfigurationRestAPI
from binance_sdk_spot.spot import Spot
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from backend.cache import Cache
from backend.config import Settings
from backend.market.book import Market
from backend.resilience import WholeReplyAdapter
from backend.trading import refusals
from backend.trading.execution import LegFill
from backend.trading.ledger import plain
from backend.trading.venues import LegOrder, LegRefused

log = logging.getLogger(__name__)

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")  # Binance's newClientOrderId pattern
QUOTE_STEP = Decimal("0.01")  # quote amounts are spent in cents, rounded down
NOT_FOUND = -2013  # "Order does not exist."
REJECTED = -2010  # "Order rejected": no balance, a filter... or an open duplicate
DUPLICATE = "duplicate order"  # -2010 "Duplicate order sent.": the order is at Binance
STATUS_UNKNOWN = (-1006, -1007)  # "... Execution status unknown." / backend timeout
DONE = frozenset({"FILLED", "EXPIRED", "EXPIRED_IN_MATCH", "CANCELED", "REJECTED"})
THROTTLED = (errors.TooManyRequestsError, errors.RateLimitBanError)
UNANSWERED = (errors.NetworkError, errors.ServerError)
# a reply that is not the JSON Binance documents: what happened stays unknown
UNREADABLE = (ValueError, KeyError, TypeError, ArithmeticError)


class OrderInDoubt(Exception):
    """A placement got no answer and the order is not visible yet: look again later."""


class SpotUnavailable(Exception):
    """Binance throttled past the longest wait allowed, or could not be reached."""


_quiet_until: dict[str, float] = {}  # base URL -> monotonic time its Retry-After ends
QUIET_KEY = "binance:spot:quiet:"  # + base URL -> the epoch time its Retry-After ends


def forget_throttling() -> None:
    """Every Binance may be called again at once by this process (tests, a fresh one)."""
    _quiet_until.clear()


def unknown_outcome(exc: Exception) -> bool:
    """Whether an answer to an order call leaves it unknown whether the order was placed."""
    if isinstance(exc, (*UNANSWERED, *UNREADABLE, errors.ClientError)):
        return True  # no answer, a 5xx, a page, or an HTTP status Binance does not document
    code = getattr(exc, "status_code", None)
    message = str(getattr(exc, "error_message", "")).lower()
    return (
        code in STATUS_UNKNOWN
        or "status unknown" in message
        or (code == REJECTED and DUPLICATE in message)
    )


def _why(exc: Exception) -> str:
    code = getattr(exc, "status_code", None)
    message = getattr(exc, "error_message", None) or f"{type(exc).__name__}: {exc}"
    return f"{code} {message}" if code is not None else message


def in_flight_seconds(settings: Settings) -> float:
    """How long after sending a request Binance may still accept it: ``recvWindow``, plus
    the second a timestamp may be ahead of Binance's clock."""
    return settings.binance_recv_window_ms / 1000 + 1.0


def client_order_id(prefix: str, trade_id: int, seq: int) -> str:
    """The same for every attempt at one leg: ``desk-42-2``."""
    cid = f"{prefix}-{trade_id}-{seq}"
    if not CLIENT_ID.fullmatch(cid):
        raise ValueError(f"client order id {cid!r} does not match {CLIENT_ID.pattern}")
    return cid


@dataclass(frozen=True)
class SpotOrder:
    """What Binance says an order did."""

    client_order_id: str
    order_id: int
    symbol: str
    side: str
    status: str
    executed_qty: Decimal  # base asset
    quote_qty: Decimal  # quote asset (cummulativeQuoteQty)
    commissions: dict[str, Decimal] = field(default_factory=dict)  # asset -> total

    @property
    def price(self) -> Decimal | None:
        return self.quote_qty / self.executed_qty if self.executed_qty else None

    @classmethod
    def from_reply(cls, body: dict, trades: list[dict] | None = None) -> SpotOrder:
        """A ``FULL`` new-order reply (``fills``), or a queried order plus its ``myTrades``."""
        if not isinstance(body, dict):  # AttributeError below would escape UNREADABLE
            raise TypeError(f"an order reply is a JSON object, not {type(body).__name__}")
        commissions: dict[str, Decimal] = defaultdict(Decimal)
        filled = Decimal("0")
        for fill in body.get("fills") or trades or ():
            commissions[fill["commissionAsset"]] += _amount(fill["commission"], "commission")
            filled += _amount(fill["qty"], "qty")
        executed = _amount(body["executedQty"], "executedQty")
        if filled != executed:  # fills missing or not all visible yet: the fee is unknown
            raise ValueError(f"fills add up to {filled}, executedQty is {executed}")
        quote = _amount(body["cummulativeQuoteQty"], "cummulativeQuoteQty")
        if (executed == 0) != (quote == 0):  # a fill for nothing would book a free trade
            raise ValueError(f"executedQty is {executed}, cummulativeQuoteQty is {quote}")
        return cls(
            client_order_id=body["clientOrderId"],
            order_id=int(body["orderId"]),
            symbol=body["symbol"],
            side=body["side"],
            status=body["status"],
            executed_qty=executed,
            quote_qty=quote,
            commissions=dict(commissions),
        )

    @property
    def done(self) -> bool:
        """Binance will not fill it any further (a MARKET order's rest is expired)."""
        return self.status in DONE


def _amount(value: object, name: str) -> Decimal:
    """A reply's quantity: ``Decimal`` takes "NaN" and "-1" without complaint, and either
    would book a wrong fill, so both are an unreadable reply (the order is looked up)."""
    number = Decimal(str(value))  # InvalidOperation (an ArithmeticError) if no number
    if not number.is_finite() or number < 0:
        raise ValueError(f"{name} is {str(value)[:40]!r}")
    return number


def _retry_after(settings: Settings):
    def wait(state) -> float:
        exc = state.outcome.exception()
        return float(exc.retry_after or settings.http_retry_backoff_seconds)

    def too_long(state) -> bool:
        exc = state.outcome.exception()
        return (exc.retry_after or 0) > settings.http_retry_max_wait_seconds

    return wait, too_long


class BinanceSpotTrader:
    """Signed spot calls: place a MARKET order once, find it again by its client id."""

    def __init__(
        self, settings: Settings, client: Spot | None = None, cache: Cache | None = None
    ) -> None:
        self.settings = settings
        if client is None:
            client = Spot(config_rest_api=rest_config(settings))
            whole = WholeReplyAdapter(max_retries=0)  # the SDK's session: no total bound
            for scheme in ("http://", "https://"):
                client.rest_api._session.mount(scheme, whole)
        self.client = client
        self.cache = cache if cache is not None and cache.shared else None
        wait, too_long = _retry_after(settings)
        self._retrying = dict(
            retry=retry_if_exception_type(THROTTLED),
            wait=wait,
            stop=stop_after_attempt(settings.http_retry_attempts) | too_long,
            reraise=True,
        )

    def _call(self, name: str, *, send_by: float | None = None, **params) -> object:
        """One signed call, throttled attempts retried; none sent past ``send_by``."""
        method = getattr(self.client.rest_api, name)
        base = self.settings.binance_trade_url
        left = self._quiet_for(base)
        if left > 0:  # a call inside a ban or throttle window would only lengthen it
            raise SpotUnavailable(
                f"Binance asked for no calls for {left:.0f} s more; {name} not sent"
            )
        try:
            for attempt in Retrying(**self._retrying):
                with attempt:
                    if send_by is not None and time.monotonic() > send_by:
                        raise OrderInDoubt(
                            f"{name} not sent: the call outlasted the time it had (slow or "
                            "throttled answers); the next attempt looks it up"
                        )
                    return method(recv_window=self.settings.binance_recv_window_ms, **params).data()
        except THROTTLED as exc:
            self._keep_quiet(
                base, float(exc.retry_after or self.settings.http_retry_backoff_seconds)
            )
            raise SpotUnavailable(
                f"Binance throttled {name} (code {exc.status_code}, retry after "
                f"{exc.retry_after} s): {exc.error_message}"
            ) from None

    def _quiet_for(self, base: str) -> float:
        """Seconds left in the longest throttle window this process or, through Redis,
        another worker was given (Redis away: this process's own)."""
        return max(_quiet_until.get(base, 0) - time.monotonic(), self._shared_quiet(base))

    def _shared_quiet(self, base: str) -> float:
        until = self.cache.get(QUIET_KEY + base) if self.cache else None
        return float(until) - time.time() if until is not None else 0.0

    def _keep_quiet(self, base: str, wait: float) -> None:
        _quiet_until[base] = max(_quiet_until.get(base, 0), time.monotonic() + wait)
        if self.cache and wait > self._shared_quiet(base):  # never shorten another's window
            self.cache.set(QUIET_KEY + base, repr(time.time() + wait), ttl=wait)

    def find(self, cid: str, symbol: str, *, placed: bool = True) -> SpotOrder | None:
        """The order placed with client id ``cid``, with its fills' commissions; None if
        Binance says it does not exist. Any other error leaves it unknown (``OrderInDoubt``)
        when it may have been ``placed``, and is Binance's refusal when it cannot have been."""
        try:
            order = _plain(self._call("get_order", symbol=symbol, orig_client_order_id=cid))
            trades = _plain(self._call("my_trades", symbol=symbol, order_id=int(order["orderId"])))
            found = SpotOrder.from_reply(order, trades)
        except errors.BadRequestError as exc:
            if exc.status_code == NOT_FOUND:
                return None
            if placed or unknown_outcome(exc):
                raise OrderInDoubt(
                    f"spot order {cid} could not be looked up: {_why(exc)}"
                ) from None
            raise
        except (*UNANSWERED, *UNREADABLE) as exc:  # whether it exists stays unknown
            raise OrderInDoubt(f"spot order {cid} could not be looked up: {_why(exc)}") from None
        except errors.Error as exc:  # 401, 403, 404...: the lookup did not happen
            if placed or unknown_outcome(exc):
                raise OrderInDoubt(
                    f"spot order {cid} could not be looked up: {_why(exc)}"
                ) from None
            raise
        if not found.done:  # a slow match: what it fills is not known yet
            raise OrderInDoubt(
                f"spot order {cid} is {found.status} at Binance ({found.executed_qty} "
                "filled so far): looked up again until it is done"
            )
        return found

    def market_order(
        self,
        cid: str,
        symbol: str,
        side: str,
        *,
        quantity: Decimal | None = None,
        quote_qty: Decimal | None = None,
        resent: bool = False,
        send_by: float | None = None,
    ) -> SpotOrder:
        """Place a MARKET order unless one with ``cid`` exists; either way, what it did.
        ``resent``: an earlier attempt may have placed it (its answer never came).
        ``send_by``: ``time.monotonic()`` past which the order is not sent (OrderInDoubt)."""
        existing = self.find(cid, symbol, placed=resent)
        if existing is not None:
            log.info("spot order %s already at Binance (order %s)", cid, existing.order_id)
            return existing
        sent = time.monotonic()
        try:
            reply = self._call(
                "new_order",
                symbol=symbol,
                side=side,
                type="MARKET",
                quantity=quantity,
                quote_order_qty=quote_qty,
                new_client_order_id=cid,
                new_order_resp_type="FULL",
                send_by=send_by,
            )
            done = SpotOrder.from_reply(_plain(reply))
            if done.done:
                return done
            log.warning("spot order %s is %s at Binance; looking it up", cid, done.status)
        except (*UNANSWERED, *UNREADABLE, errors.Error) as exc:
            if not unknown_outcome(exc):
                raise  # Binance's definite no: nothing was placed
            log.warning("spot order %s: status unknown (%s); looking it up", cid, _why(exc))
        found = self.find(cid, symbol)
        if found is None:  # believed only once Binance would refuse the request if it came
            time.sleep(max(0.0, sent + in_flight_seconds(self.settings) - time.monotonic()))
            found = self.find(cid, symbol)
        if found is None:
            raise OrderInDoubt(
                f"spot order {cid} unanswered and not at Binance past its recvWindow: "
                "the next attempt places it"
            )
        return found


class LiveSpotVenue:
    """A spot leg as a MARKET order: BUY spends quote (``quoteOrderQty``), SELL base."""

    mode = "live"

    def __init__(
        self,
        settings: Settings,
        trader: BinanceSpotTrader | None = None,
        cache: Cache | None = None,
    ) -> None:
        self.settings = settings
        self.trader = trader or BinanceSpotTrader(settings, cache=cache)

    def fill(self, order: LegOrder) -> LegFill:
        leg = order.leg
        market = Market.parse(leg.market)
        cid = client_order_id(self.settings.live_order_prefix, order.trade_id, order.seq)
        if leg.side == "BUY":
            kw = {"quote_qty": order.amount.quantize(QUOTE_STEP, ROUND_DOWN)}
            notional = kw["quote_qty"]
        else:
            step = self.settings.spot_lot_steps.get(market.symbol, Decimal("0.00000001"))
            kw = {"quantity": (order.amount / step).to_integral_value(ROUND_DOWN) * step}
            notional = kw["quantity"] * order.price if order.price else None
        minimum = self.settings.spot_min_notionals.get(market.symbol)
        if minimum and notional is not None and notional < minimum and not order.resent:
            raise LegRefused(  # Binance would answer -1013 NOTIONAL: not worth a request
                refusals.MIN_NOTIONAL(
                    notional=plain(notional), quote=market.fiat, symbol=market.symbol,
                    minimum=plain(minimum),
                )
            )  # fmt: skip
        try:
            if order.refused is not None:  # no new order: only one an earlier attempt placed
                done = self.trader.find(cid, market.symbol)
                if done is None:
                    raise LegRefused(order.refused)
            else:
                done = self.trader.market_order(
                    cid, market.symbol, leg.side, resent=order.resent, send_by=order.send_by, **kw
                )
        except errors.Error as exc:  # a 4xx to a leg never sent before: nothing was placed
            code = getattr(exc, "status_code", None)
            raise LegRefused(
                f"Binance refused {cid}: {code} {getattr(exc, 'error_message', exc)}"
            ) from None
        if not done.executed_qty:  # expired unfilled: no liquidity, self-trade prevention
            raise LegRefused(f"Binance filled nothing of {cid}: order {done.status}")
        return to_leg_fill(order, market, done)


def to_leg_fill(order: LegOrder, market: Market, done: SpotOrder) -> LegFill:
    """Cash flows as Binance settled them: paid what it spent, got what it credited."""
    leg = order.leg
    spent, got = (
        (done.quote_qty, done.executed_qty)
        if leg.side == "BUY"
        else (done.executed_qty, done.quote_qty)
    )
    fee = done.commissions.get(leg.dst, Decimal("0"))
    spent += done.commissions.get(leg.src, Decimal("0"))  # charged on what it paid: paid more
    # paid in BNB (Binance's fee discount): not taken from the proceeds but from the
    # house's BNB, which the ledger then shows as spent
    elsewhere = tuple(
        sorted((a, v) for a, v in done.commissions.items() if a not in (leg.src, leg.dst) and v)
    )
    return LegFill(
        leg, done.price, spent, got - fee, fee, done.status == "FILLED",
        fees_elsewhere=elsewhere,
    )  # fmt: skip


def rest_config(settings: Settings) -> ConfigurationRestAPI:
    """Keys come from the settings (SecretStr) and go nowhere but the signer."""
    key, secret = settings.binance_api_key, settings.binance_api_secret
    if key is None or secret is None:
        raise LegRefused("TRADING_MODE=live needs BINANCE_API_KEY and BINANCE_API_SECRET")
    return ConfigurationRestAPI(
        api_key=key.get_secret_value(),
        api_secret=secret.get_secret_value(),
        base_path=settings.binance_trade_url.rstrip("/"),
        timeout=int(settings.live_order_timeout_seconds * 1000),
        retries=0,
        compression=False,
    )


def _plain(data: object) -> object:
    """SDK models back to Binance's JSON (its field names, amounts as strings)."""
    if isinstance(data, list):
        return [_plain(item) for item in data]
    return data.to_dict() if hasattr(data, "to_dict") else data
