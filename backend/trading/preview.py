"""What executing an opportunity at a size would do right now: every leg's fill, the
profit, and the reasons the executor would refuse it. The execute dialog shows this as
the trader edits the size; it runs the executor's own pricing and checks, so what the
dialog promises is what the worker does with the same books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.trading import controls, risk
from backend.trading.execution import Leg, LegFill, profit_usd, run_cycle
from backend.trading.executor import fees_from


@dataclass(frozen=True)
class Preview:
    size_usd: Decimal
    fills: tuple[LegFill, ...]  # as far as the books fill; shorter when a leg runs dry
    profit_usd: Decimal | None  # None when a book is stale or cannot fill the size
    refusals: tuple[str, ...]  # empty: the executor would go ahead

    @property
    def complete(self) -> bool:
        return self.profit_usd is not None


def preview(
    session: Session,
    cache: Cache,
    settings: Settings,
    legs: list[dict],
    size_usd: Decimal,
    now: datetime,
) -> Preview:
    cycle = tuple(Leg.from_dict(d) for d in legs)
    markets = sorted({leg.market for leg in cycle})
    books = latest.get_many(session, cache, markets)
    stale = sorted(latest.stale(session, books, markets, now, settings.stale_after_seconds))
    fills: list[LegFill] = []
    profit = None
    if all(m in books for m in markets):
        fills = run_cycle(cycle, books, size_usd, fees_from(settings), settings.paper_slippage)
        if not stale and len(fills) == len(cycle) and fills[-1].complete:
            profit = profit_usd(fills)
    reasons = risk.refusals(controls.load(session, settings), size_usd, profit, stale)
    return Preview(size_usd, tuple(fills), profit, tuple(reasons))
