"""What a person does about a stranded trade: retry its unwind now, or close it holding.

A stranded trade holds what its filled legs bought (already in the balances, through the
ledger). A trader may send it back to the worker at once rather than wait for the
sweeper; an admin may decide the desk keeps what it holds: the trade ends ``closed``,
its profit the legs' cash flows, like any other finished trade. Both are refused, and
change nothing, unless the trade is stranded.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Trade, TradeLeg
from backend.ops import metrics
from backend.trading import legs, reasons, trades
from backend.trading.trades import TradeRequestError
from backend.trading.unwind import CLOSED, STRANDED


def _stranded(session: Session, trade_id: int, doing: str) -> None:
    status = session.scalar(select(Trade.status).where(Trade.id == trade_id).with_for_update())
    if status is None:
        raise TradeRequestError(f"trade {trade_id} does not exist", 404)
    if status != STRANDED:
        raise TradeRequestError(
            f"trade {trade_id} is {status}, not stranded: only a stranded trade can {doing}",
            409,
        )


def retry(session: Session, trade_id: int, *, actor: str, now: datetime) -> None:
    """Audit a retry of the unwind; the caller then publishes the trade (the worker's
    claim turns it ``unwinding``)."""
    _stranded(session, trade_id, "have its unwind retried")
    trades.record_event(
        session, trade_id, now, STRANDED, STRANDED, f"unwind retried by {actor}", actor
    )


def close(session: Session, trade_id: int, *, reason: object, actor: str, now: datetime) -> Decimal:
    """Close a stranded trade holding what its legs bought; returns its profit (the legs'
    cash flows, as for an unwound trade)."""
    _stranded(session, trade_id, "be closed")
    try:
        why = reasons.clean(reason)
    except ValueError as exc:
        raise TradeRequestError(str(exc)) from None
    rows = session.scalars(select(TradeLeg).where(TradeLeg.trade_id == trade_id)).all()
    profit = legs.profit(rows)
    detail = f"closed holding by {actor}: {why}; profit {profit:.2f} USD"
    if not trades.transition(
        session, trade_id, (STRANDED,), CLOSED, now, detail, actor=actor,
        profit_usd=profit, lease_until=None,
    ):  # fmt: skip
        raise TradeRequestError(f"trade {trade_id} is no longer stranded", 409)
    return profit


def close_now(sessions, trade_id: int, *, reason: object, actor: str, now: datetime) -> Decimal:
    """``close`` in a transaction of its own, then count the ended trade with the others:
    after the commit, so a refused or rolled-back close counts nothing. The API, the
    command line and the Trades page all close through here."""
    with sessions.begin() as session:
        profit = close(session, trade_id, reason=reason, actor=actor, now=now)
        strategy, mode = session.execute(
            select(Trade.strategy, Trade.mode).where(Trade.id == trade_id)
        ).one()
    metrics.TRADES_EXECUTED.labels(strategy=strategy, mode=mode, status=CLOSED).inc()
    return profit
