"""Paper execution of a stored trade: re-price on the latest books, check risk, fill the legs.

Runs inside the Celery trading task. Claiming (requested|queued -> executing) is its own
committed step, so a second delivery of the same message finds nothing to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.models import Opportunity, Trade, TradeLeg
from backend.ops import metrics
from backend.trading import controls, risk, trades
from backend.trading.arbitrage import strategy_of
from backend.trading.execution import Fees, Leg, profit_usd, run_cycle

log = logging.getLogger(__name__)


def fees_from(settings: Settings) -> Fees:
    return Fees(settings.p2p_taker_fee, settings.spot_taker_fee, settings.transfer_fee)


def execute(
    sessions: sessionmaker[Session],
    cache: Cache,
    settings: Settings,
    trade_id: int,
    clock: Callable[[], datetime],
) -> str:
    """Run one trade to a final status and return it."""
    with sessions.begin() as session:
        if not trades.transition(
            session,
            trade_id,
            ("requested", "queued"),
            "executing",
            clock(),
            "paper executor picked it up",
            actor="worker",
        ):
            trade = session.get(Trade, trade_id)
            return trade.status if trade else "missing"
    try:
        with sessions.begin() as session:
            return _fill(session, cache, settings, trade_id, clock)
    except Exception as exc:
        log.exception("trade %s failed", trade_id)
        with sessions.begin() as session:
            trades.transition(
                session,
                trade_id,
                ("executing",),
                "failed",
                clock(),
                f"executor error: {exc}",
                actor="worker",
                error=str(exc)[:500],
            )
        metrics.TRADES_EXECUTED.labels(strategy="unknown", mode="paper", status="failed").inc()
        return "failed"


def _fill(session: Session, cache: Cache, settings: Settings, trade_id: int, clock) -> str:
    trade = session.get(Trade, trade_id)
    opp = session.get(Opportunity, trade.opportunity_id)
    legs = tuple(Leg.from_dict(d) for d in opp.legs)
    now = clock()
    markets = sorted({leg.market for leg in legs})
    books = latest.get_many(session, cache, markets)
    stale = sorted(latest.stale(session, books, markets, now, settings.stale_after_seconds))
    fills, profit = [], None
    if not stale:
        fills = run_cycle(legs, books, trade.size_usd, fees_from(settings), settings.paper_slippage)
        if len(fills) == len(legs) and fills[-1].complete:
            profit = profit_usd(fills)
    strategy = strategy_of(legs)
    reasons = risk.refusals(controls.load(session, settings), trade.size_usd, profit, stale)
    if reasons:
        detail = "; ".join(reasons)
        trades.transition(
            session, trade_id, ("executing",), "rejected", now, detail, actor="worker", error=detail
        )
        metrics.TRADES_EXECUTED.labels(strategy=strategy, mode="paper", status="rejected").inc()
        return "rejected"
    for seq, f in enumerate(fills, start=1):
        session.add(
            TradeLeg(
                trade_id=trade_id,
                seq=seq,
                market=f.leg.market,
                side=f.leg.side,
                method=f.leg.method,
                price=f.price,
                sell_currency=f.leg.src,
                sell_amount=f.sell_amount,
                buy_currency=f.leg.dst,
                buy_amount=f.buy_amount,
                fee=f.fee,
                filled_at=now,
            )
        )
    trades.transition(
        session,
        trade_id,
        ("executing",),
        "filled",
        now,
        f"paper fill, profit {profit:.2f} USD",
        actor="worker",
        profit_usd=profit,
    )
    metrics.TRADES_EXECUTED.labels(strategy=strategy, mode="paper", status="filled").inc()
    metrics.TRADE_PROFIT.labels(strategy=strategy).observe(float(profit))
    return "filled"
