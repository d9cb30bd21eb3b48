"""What executing an opportunity at a size would do right now: every leg's fill, the
profit, and the reasons the executor would refuse it (kill switch, limits, stale books,
a size the books cannot fill, a house account that cannot pay). The execute dialog shows
this as the trader edits the size, and the Opportunities grid disables Execute with the
reason. It runs the executor's own pricing and checks (``executor._fill``) without taking
its locks, so what the page promises is what the worker does with the same books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.market.book import Book
from backend.trading import controls, ledger, liquidity, risk
from backend.trading.controls import Controls
from backend.trading.execution import Fees, Leg, LegFill, profit_usd, run_cycle
from backend.trading.executor import today
from backend.trading.quotes import fees_from


@dataclass(frozen=True)
class Desk:
    """What the checks read, gathered once for any number of previews."""

    books: dict[str, Book]  # less the liquidity fills already took
    stale: tuple[str, ...]
    limits: Controls
    day: risk.Day
    held: dict[str, Decimal]  # house balances
    fees: Fees
    slippage: Decimal


@dataclass(frozen=True)
class Preview:
    size_usd: Decimal
    fills: tuple[LegFill, ...]  # as far as the books fill; shorter when a leg runs dry
    profit_usd: Decimal | None  # None when a book is stale or cannot fill the size
    refusals: tuple[str, ...]  # empty: the executor would go ahead

    @property
    def complete(self) -> bool:
        return self.profit_usd is not None


def gather(
    session: Session, cache: Cache, settings: Settings, markets: set[str], now: datetime
) -> Desk:
    books = latest.get_many(session, cache, sorted(markets))
    stale = sorted(latest.stale(session, books, sorted(markets), now, settings.stale_after_seconds))
    return Desk(
        books=liquidity.remaining(session, books),
        stale=tuple(stale),
        limits=controls.load(session, settings),
        day=today(session, now),
        held=ledger.house_balances(session),
        fees=fees_from(settings),
        slippage=settings.paper_slippage,
    )


def evaluate(desk: Desk, legs: list[dict], size_usd: Decimal) -> Preview:
    cycle = tuple(Leg.from_dict(d) for d in legs)
    markets = {leg.market for leg in cycle}
    stale = sorted(m for m in markets if m in desk.stale)
    fills: list[LegFill] = []
    profit = None
    if markets <= set(desk.books):
        fills = run_cycle(cycle, desk.books, size_usd, desk.fees, desk.slippage)
        if not stale and len(fills) == len(cycle) and fills[-1].complete:
            profit = profit_usd(fills)
    reasons = risk.refusals(desk.limits, size_usd, profit, stale, desk.day)
    if not reasons and profit is not None:
        lines = ledger.fill_lines(fills)
        reasons = risk.overdrafts(desk.limits, desk.held, [(ln.account, ln.amount) for ln in lines])
    return Preview(size_usd, tuple(fills), profit, tuple(reasons))


def preview(
    session: Session,
    cache: Cache,
    settings: Settings,
    legs: list[dict],
    size_usd: Decimal,
    now: datetime,
) -> Preview:
    markets = {d["market"] for d in legs}
    return evaluate(gather(session, cache, settings, markets, now), legs, size_usd)
