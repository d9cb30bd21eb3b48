"""Why a market fetch failed, as types the ingest task, the CLI and the breaker can act on.

Also home of ``decimal_of``, the one wire-number parser, so every client rejects a bad
number with the same reasons.

Every error carries a short ``reason`` (a metric label, so a small fixed vocabulary) and
two flags the resilience layer reads:

- ``retryable``: worth another attempt after a backoff (429, 5xx, timeouts, dropped
  connections). Nothing else is retried: a malformed or rejected reply will not improve
  in half a second, and retrying it only spends rate limit.
- ``breaker_failure``: says the upstream itself is unhealthy, so it counts towards
  opening the circuit breaker. Transport failures, 429/5xx, HTML pages and malformed
  JSON do. A clean business answer does not: ``success:false`` with a code (an
  unsupported payment method, say) or ``success:true`` with no ads is Binance working
  correctly on a request it cannot satisfy; opening the breaker on it would blind every
  other market on the same upstream because of one misconfigured filter.
  A rejection with any other code ("system busy", a code never seen before) is Binance
  saying no to everything, so the P2P client marks it a breaker failure.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

# Plain ASCII decimal, optionally with an exponent. ``Decimal`` alone also takes "1_000",
# non-ASCII digits and "NaN", none of which Binance sends for a price.
_WIRE_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
# What a Money column (NUMERIC(38, 18)) stores exactly: anything larger fails the insert
# (and the whole ingest), anything finer is rounded, a tiny price possibly to zero.
MAX_WIRE_NUMBER = Decimal(10) ** 20
STORED_PLACES = Decimal(10) ** -18
_EXACT = Context(prec=60)  # room for all 38 digits, so quantize never rounds or traps


class MarketDataError(Exception):
    """Base of every failure to get a usable book from a source."""

    reason = "market_data"
    retryable = False
    breaker_failure = True
    retry_after: float | None = None  # seconds the upstream asked us to wait, if it said

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class UpstreamUnavailable(MarketDataError):
    """The upstream's circuit breaker is open: failed fast, no request was sent."""

    reason = "breaker_open"
    breaker_failure = False


class RateLimited(MarketDataError):
    """No rate-limit token within the allowed wait: we chose not to call."""

    reason = "rate_limited"
    breaker_failure = False


class TransportError(MarketDataError):
    """Timeout, refused or dropped connection: nothing usable came back."""

    reason = "connection"
    retryable = True


class UpstreamHTTPError(MarketDataError):
    """A non-2xx status. 429 and 5xx are retried (after ``Retry-After`` when given)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        retryable = status in (418, 429) or status >= 500
        bucket = f"http_{status}" if status in (418, 429) else f"http_{status // 100}xx"
        super().__init__(message, reason=bucket)
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable


class BadReply(MarketDataError):
    """The reply is not what the wire format promises: HTML, bad JSON, wrong shape."""

    reason = "bad_reply"


class UpstreamRejected(MarketDataError):
    """``success:false`` (P2P) or a ``{"code","msg"}`` error body (spot): a business no."""

    reason = "rejected"

    def __init__(self, code: str, message: str, *, breaker_failure: bool = False) -> None:
        super().__init__(f"rejected with code {code}: {message}")
        self.code = code
        self.upstream_message = message
        self.breaker_failure = breaker_failure


class EmptyBook(MarketDataError):
    """A well-formed reply with no ads at all (or nothing recorded for a replayed market)."""

    reason = "empty"
    breaker_failure = False


class BadAd(MarketDataError):
    """One ad (or spot level) is unusable. Clients skip it and count it; never raised out."""

    reason = "bad_ad"


def decimal_of(value: object, field: str) -> Decimal:
    """A wire number (Binance sends strings) as a finite Decimal that a Money column holds
    exactly, or BadAd saying why not."""
    if value is None or value == "":
        raise BadAd(f"{field} is missing", reason="missing_field")
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise BadAd(f"{field} is not a number: {value!r}", reason="not_a_number")
    text = str(value).strip()
    if isinstance(value, str) and not _WIRE_NUMBER.fullmatch(text):
        raise BadAd(f"{field} is not a number: {value!r}", reason="not_a_number")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadAd(f"{field} is not a number: {value!r}", reason="not_a_number") from None
    if not number.is_finite():
        raise BadAd(f"{field} is not a finite number: {value!r}", reason="not_a_number")
    if abs(number) >= MAX_WIRE_NUMBER or number.quantize(STORED_PLACES, context=_EXACT) != number:
        raise BadAd(
            f"{field} is out of the storable range: {str(value)[:40]!r}", reason="out_of_range"
        )
    return number
