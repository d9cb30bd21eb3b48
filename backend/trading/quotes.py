"""What a cycle pays at a size on the books as they are now (less what fills took):
the expected profit stored with a trade request of a size of the trader's choosing."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.models import LatestBook
from backend.trading import liquidity
from backend.trading.execution import Fees, Leg, profit_usd, run_cycle

CENT = Decimal("0.01")


def fees_from(settings: Settings) -> Fees:
    lots = tuple(sorted(settings.spot_lot_steps.items()))
    notionals = tuple(sorted(settings.spot_min_notionals.items()))
    return Fees(
        settings.p2p_taker_fee, settings.spot_taker_fee, settings.transfer_fee, lots, notionals
    )


def reprice(
    session: Session,
    cache: Cache,
    settings: Settings,
    legs: list[dict],
    size_usd: Decimal,
    now: datetime,
) -> Decimal | None:
    """Profit in USD (rounded down to the cent) of ``legs`` at ``size_usd``, with the
    slippage a paper fill applies; None when a book is stale or cannot fill the size."""
    cycle = tuple(Leg.from_dict(d) for d in legs)
    markets = sorted({leg.market for leg in cycle})
    books = latest.get_many(session, cache, markets)
    max_age = settings.stale_after_seconds
    if session.get_bind().dialect.name == "postgresql":  # one round trip for both reads
        (failing,), books = liquidity.split(
            session.execute(_FAILING_AND_TAKES, liquidity.takes_params(books, now)).all(), books
        )
        stale = latest.untrusted(books, set(failing or ()), markets, now, max_age)
    else:
        stale = latest.stale(session, books, markets, now, max_age)
        books = liquidity.remaining(session, books)
    if stale:
        return None
    fills = run_cycle(cycle, books, size_usd, fees_from(settings), settings.paper_slippage)
    if len(fills) != len(cycle) or not fills[-1].complete:
        return None
    return profit_usd(fills).quantize(CENT, rounding=ROUND_FLOOR)


# PostgreSQL: the markets whose last poll failed (an array) with the takes of the books;
# on the table, not the ORM entity: no ORM set-up per request
_book = LatestBook.__table__.c
_FAILING_AND_TAKES = liquidity.with_takes(
    select(func.array_agg(_book.market).label("failing")).where(_book.error.is_not(None)).subquery()
)
