"""Where a leg is filled, chosen per leg by its venue and ``TRADING_MODE``.

``paper`` (the default) fills every leg on the latest books; ``live`` sends spot legs to
Binance's signed REST API and turns P2P legs into operator tickets, because Binance has no
public API to place P2P orders. Every venue answers a ``LegOrder`` with the same
``LegFill`` the paper executor produces, or with ``Awaiting`` when a person must act
first; the executor does not know which one it talked to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from backend.market.book import Market, Venue
from backend.trading.execution import Leg, LegFill


@dataclass(frozen=True)
class LegOrder:
    """Spend ``amount`` of ``leg.src`` on leg ``seq`` (1-based) of trade ``trade_id``."""

    trade_id: int
    seq: int
    leg: Leg
    amount: Decimal
    resent: bool = False  # an earlier attempt sent it: an order may exist at the venue
    price: Decimal | None = None  # the book's best price for it: what a minimum is valued at
    # time.monotonic() past which no order may leave for it: the claim's lease, less the
    # time a request may still be accepted, so no later attempt can miss it and place it too
    send_by: float | None = None
    # why it may not be placed now (the kill switch, a limit...), when an earlier attempt
    # may have placed it: it is looked up and booked if it exists, else refused for this
    refused: str | None = None


@dataclass(frozen=True)
class Awaiting:
    """The leg waits for an operator to settle ticket ``ticket_id``."""

    ticket_id: int


class LegRefused(Exception):
    """The venue said no (no balance, lot size, market closed): nothing was filled."""


class LegVenue(Protocol):
    mode: str  # "paper" or "live", as trades.mode and the metrics say

    def fill(self, order: LegOrder) -> LegFill | Awaiting: ...


def choose(mode: str, leg: Leg, *, paper: LegVenue, spot: LegVenue, p2p: LegVenue) -> LegVenue:
    """The venue for ``leg``: everything on paper, or live spot and operator-run P2P."""
    if mode == "paper":
        return paper
    return spot if Market.parse(leg.market).venue is Venue.SPOT else p2p
