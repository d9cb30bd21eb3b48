"""Trade requests and their life cycle: stored before queued, changed only conditionally.

Every status change is ``UPDATE ... WHERE status IN (allowed)`` plus a trade_events row in
the same transaction, so a duplicate delivery or a double click can never run a trade
twice or lose its history.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.models import Opportunity, Trade, TradeEvent

MAX_SIZE_USD = Decimal("1000000")


class TradeRequestError(Exception):
    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message, self.status = message, status


def parse_size(raw: object) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str, float)):
        raise TradeRequestError('size must be a number of USD, e.g. "500"')
    try:
        size = Decimal(str(raw))
    except InvalidOperation:
        raise TradeRequestError(f"size {raw!r} is not a number") from None
    if not size.is_finite() or size <= 0:
        raise TradeRequestError("size must be a positive number of USD")
    if size > MAX_SIZE_USD:
        raise TradeRequestError(f"size must be at most {MAX_SIZE_USD} USD")
    return size


def request_trade(
    session: Session,
    *,
    opportunity_id: object,
    size: object,
    key: str | None,
    user: str,
    now: datetime,
) -> tuple[Trade, bool]:
    """Store a trade request (the outbox row). Returns (trade, created)."""
    if not key or len(key) > 100:
        raise TradeRequestError("an Idempotency-Key header of 1 to 100 characters is required", 400)
    if isinstance(opportunity_id, bool) or not isinstance(opportunity_id, int):
        raise TradeRequestError("opportunity_id must be an integer")
    wanted = parse_size(size)
    existing = session.scalar(select(Trade).where(Trade.idempotency_key == key))
    if existing is not None:
        return _same_request(existing, opportunity_id, wanted), False
    opp = session.get(Opportunity, opportunity_id)
    if opp is None:
        raise TradeRequestError(f"opportunity {opportunity_id} does not exist", 404)
    if opp.status != "active" or opp.expires_at <= now:
        raise TradeRequestError(f"opportunity {opportunity_id} has expired", 409)
    trade = Trade(
        idempotency_key=key,
        opportunity_id=opp.id,
        requested_by=user,
        mode="paper",
        strategy=opp.strategy,
        status="requested",
        size_usd=wanted or opp.size_usd,
        expected_profit_usd=opp.profit_usd,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(trade)
            session.flush()
    except IntegrityError:  # the same key won a race a moment ago
        existing = session.scalar(select(Trade).where(Trade.idempotency_key == key))
        return _same_request(existing, opportunity_id, wanted), False
    session.add(
        TradeEvent(
            trade_id=trade.id,
            at=now,
            from_status=None,
            to_status="requested",
            detail=f"requested by {user}",
        )
    )
    return trade, True


def _same_request(trade: Trade, opportunity_id: int, size: Decimal | None) -> Trade:
    if trade.opportunity_id != opportunity_id or (size is not None and size != trade.size_usd):
        raise TradeRequestError(
            "this Idempotency-Key was already used for a different request", 409
        )
    return trade


def transition(
    session: Session,
    trade_id: int,
    allowed: tuple[str, ...],
    to: str,
    now: datetime,
    detail: str | None = None,
    **values,
) -> bool:
    """Move a trade to ``to`` if it is in one of ``allowed``; audit the move. False if not.

    The update names the status it read, so a concurrent move (the web marking a trade
    queued while the worker claims it) makes it read again instead of winning twice.
    """
    for _ in range(len(allowed) + 1):
        current = session.scalar(select(Trade.status).where(Trade.id == trade_id))
        if current not in allowed:
            return False
        result = session.execute(
            update(Trade)
            .where(Trade.id == trade_id, Trade.status == current)
            .values(status=to, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            session.add(
                TradeEvent(
                    trade_id=trade_id, at=now, from_status=current, to_status=to, detail=detail
                )
            )
            return True
    return False


def recent(session: Session, limit: int = 200) -> list[Trade]:
    return list(session.scalars(select(Trade).order_by(Trade.id.desc()).limit(limit)))


def events(session: Session, trade_id: int) -> list[TradeEvent]:
    return list(
        session.scalars(
            select(TradeEvent).where(TradeEvent.trade_id == trade_id).order_by(TradeEvent.id)
        )
    )


def stuck(session: Session, status: str, older_than: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Trade.id).where(Trade.status == status, Trade.updated_at < older_than)
        )
    )
