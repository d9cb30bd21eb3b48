"""Trade requests and their life cycle: stored before queued, changed only conditionally.

Every status change is ``UPDATE ... WHERE status IN (allowed)`` plus a trade_events row in
the same transaction, so a duplicate delivery or a double click can never run a trade
twice or lose its history.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Row, bindparam, func, insert, literal, null, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, lazyload

from backend import db
from backend.models import Opportunity, Trade, TradeEvent
from backend.trading import trade_days
from backend.trading.refusals import N_
from backend.trading.unwind import CLOSED, STRANDED, UNWINDING, UNWOUND

MAX_SIZE_USD = Decimal("1000000")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
RUNNING = ("executing", UNWINDING)  # a worker attempt holds them under a lease
SIZE = re.compile(r"\d{1,12}(\.\d{1,2})?", re.ASCII)  # USD with at most cents, no exponent or "_"
# Every status a trade can be in, in life-cycle order. The one list: the history's status
# filter and the Trades page's choices are derived from it, so a new status is searchable
# the moment it exists.
STATUSES = (
    "requested",
    "queued",
    "executing",
    "awaiting_operator",  # a live P2P leg waits for its operator ticket
    "filled",
    "rejected",
    "failed",
    "cancelled",
    UNWINDING,  # stopped halfway: turning what its legs bought back
    UNWOUND,
    STRANDED,  # its unwind cannot go on: it holds what its legs bought
    CLOSED,  # stranded, then closed by an admin: the desk keeps what its legs bought
)


class TradeRequestError(Exception):
    """``message`` in English for the API and the logs; a page shows the catalog's
    translation of ``template`` (marked ``N_``) filled with the same ``values``."""

    def __init__(
        self,
        template: str,
        status: int = 422,
        retry_after: int | None = None,
        **values: object,
    ):
        message = template.format(**values) if values else template
        super().__init__(message)
        self.message, self.status, self.retry_after = message, status, retry_after
        self.template, self.values = template, values


SIZE_TYPE = N_('size must be a number of USD, e.g. "500"')


def parse_size(raw: object, min_size: Decimal = Decimal("0.01")) -> Decimal | None:
    """A ticket in USD: ``"500"``, ``"1250.50"`` or a JSON number; None means the
    opportunity's own size. Refused: exponents, ``_``, more than cents, out of range."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str | float):
        raise TradeRequestError(SIZE_TYPE)
    text = (repr(raw) if isinstance(raw, float) else str(raw)).strip()
    if isinstance(raw, float) and text.endswith(".0"):
        text = text[:-2]
    if len(text) > 15 or not SIZE.fullmatch(text):
        raise TradeRequestError(
            N_('size {size} is not an amount of USD like "500" or "1250.50"'), size=repr(text[:20])
        )
    size = Decimal(text)
    if size < min_size:
        raise TradeRequestError(N_("size must be at least {min_size} USD"), min_size=min_size)
    if size > MAX_SIZE_USD:
        raise TradeRequestError(N_("size must be at most {max_size} USD"), max_size=MAX_SIZE_USD)
    return size


def request_trade(
    session: Session,
    *,
    opportunity_id: object,
    size: object,
    key: str | None,
    user: str,
    now: datetime,
    via: str = "session",
    min_size: Decimal = Decimal("0.01"),
    reprice: Callable[[list[dict], Decimal], Decimal | None] | None = None,
    mode: str = "paper",
) -> tuple[Trade, bool]:
    """Store a trade request (the outbox row). Returns (trade, created).

    A size other than the opportunity's own is priced again with ``reprice`` (the books
    as they are now), so the stored expected profit is what that size pays."""
    if not isinstance(key, str) or not key or len(key) > 100 or not key.isprintable():
        raise TradeRequestError(
            "an Idempotency-Key header of 1 to 100 printable characters is required", 400
        )
    if isinstance(opportunity_id, bool) or not isinstance(opportunity_id, int):
        raise TradeRequestError("opportunity_id must be an integer")
    if not 1 <= opportunity_id <= MAX_ID:
        raise TradeRequestError(N_("opportunity {id} does not exist"), 404, id=opportunity_id)
    wanted = parse_size(size, min_size)
    try:
        opp, expected = _priced(session, opportunity_id, wanted, now, reprice)
    except TradeRequestError:
        # a key used before answers with its trade, however the opportunity stands now
        existing = session.scalar(
            select(Trade).where(Trade.requested_by == user, Trade.idempotency_key == key)
        )
        if existing is None:
            raise
        return _same_request(existing, opportunity_id, wanted), False
    values = {
        "idempotency_key": key,
        "opportunity_id": opp.id,
        "requested_by": user,
        "mode": mode,
        "strategy": opp.strategy,
        "status": "requested",
        "size_usd": wanted or opp.size_usd,
        "expected_profit_usd": expected,
        "created_at": now,
        "updated_at": now,
    }
    detail = f"requested by {user} ({via})"
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:  # the row and its audit row in one statement, one round trip
        trade = session.scalar(_store_requested(), values | {"detail": detail})
    else:
        trade = session.scalar(
            sqlite_insert(Trade)
            .values(values)
            .on_conflict_do_nothing(index_elements=[Trade.requested_by, Trade.idempotency_key])
            .returning(Trade)
            .options(lazyload(Trade.legs))  # it has none yet: no query for them
        )
    if trade is None:  # the key was used before (or won a race a moment ago)
        existing = session.scalar(
            select(Trade).where(Trade.requested_by == user, Trade.idempotency_key == key)
        )
        return _same_request(existing, opportunity_id, wanted), False
    # requested: in flight, it adds nothing to the daily totals (not told, nothing to add)
    if not postgresql:
        record_event(session, trade.id, now, None, "requested", detail, user)
    return trade, True


@functools.cache
def _store_requested():
    """PostgreSQL: store a request (``ON CONFLICT`` on its key: nothing) and, if stored,
    its ``requested`` audit row; the stored trade back, legs not loaded (it has none).
    Built once per process, the values go as parameters."""
    column = Trade.__table__.c
    names = ("idempotency_key", "opportunity_id", "requested_by", "mode", "strategy",
             "status", "size_usd", "expected_profit_usd", "created_at", "updated_at")  # fmt: skip
    stored = (
        pg_insert(Trade)
        .values({n: bindparam(n, type_=column[n].type) for n in names})
        .on_conflict_do_nothing(index_elements=[Trade.requested_by, Trade.idempotency_key])
        .returning(*Trade.__table__.c)
        .cte("stored")
    )
    row = select(
        stored.c.id,
        stored.c.created_at,
        null(),
        stored.c.status,
        bindparam("detail", type_=TradeEvent.__table__.c.detail.type),
        stored.c.requested_by,
    )
    audit = insert(TradeEvent).from_select(
        ["trade_id", "at", "from_status", "to_status", "detail", "actor"], row
    )
    trade = aliased(Trade, stored)
    return (
        select(trade)
        .add_cte(audit.returning(TradeEvent.id).cte("audit"))
        .options(lazyload(trade.legs))
    )


def _priced(session, opportunity_id, wanted, now, reprice) -> tuple[Row, Decimal]:
    """The opportunity, if it can still be taken, and what ``wanted`` USD of it pays."""
    opp = session.execute(_OPPORTUNITY, {"id": opportunity_id}).first()
    if opp is None:
        raise TradeRequestError(N_("opportunity {id} does not exist"), 404, id=opportunity_id)
    if opp.status != "active" or opp.expires_at <= now:
        raise TradeRequestError(N_("opportunity {id} has expired"), 409, id=opportunity_id)
    expected = opp.profit_usd
    if wanted is not None and wanted != opp.size_usd and reprice is not None:
        expected = reprice(opp.legs, wanted)
        if expected is None:
            raise TradeRequestError(
                N_("the books cannot fill {size} USD of opportunity {id} now (too thin, or stale)"),
                409,
                size=wanted,
                id=opportunity_id,
            )
    return opp, expected


_opportunity = Opportunity.__table__.c
# what a request reads of its opportunity, built once per process: a row, no ORM object
_OPPORTUNITY = select(
    _opportunity.id,
    _opportunity.strategy,
    _opportunity.legs,
    _opportunity.size_usd,
    _opportunity.profit_usd,
    _opportunity.status,
    _opportunity.expires_at,
).where(_opportunity.id == bindparam("id"))


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
    *,
    actor: str,
    owner: str | None = None,
    durable: bool = True,
    **values,
) -> bool:
    """Move a trade to ``to`` if it is in one of ``allowed``; audit the move. False if not.
    ``durable=False``: once moved, the transaction commits without waiting for the disk
    (see ``db.commit_without_waiting``; set by the move's own statement on PostgreSQL).

    Out of in-flight statuses (every move the desk makes), the trade added nothing to the
    daily totals: a move to a settled status tells them so (its standing is read at the
    commit), a move to another in-flight status does not concern them. Out of any other,
    the totals first note what it adds now (``trade_days.touch``, one locked read per
    transaction). Then the conditional update and its audit row: on PostgreSQL one
    statement (see ``_move``); on SQLite (one writer at a time) one update per allowed
    status, in ``allowed``'s order, the life cycle's. Either way the audit names the
    status the trade really left, and nobody wins twice.
    With ``owner``, only the worker attempt holding the claim can move it.
    """
    settled_before = not trade_days.IN_FLIGHT.issuperset(allowed)
    if settled_before:
        trade_days.touch(session, trade_id)  # what it adds to the daily totals until now
    if session.get_bind().dialect.name == "postgresql":
        move = _move(tuple(allowed), to, tuple(sorted(values)), owner is not None, durable)
        params = {f"v_{k}": v for k, v in values.items()}
        params |= {"trade_id": trade_id, "owner": owner, "now": now, "detail": detail}
        left = session.scalar(move, params | {"actor": actor})
    else:
        claim = () if owner is None else (Trade.claimed_by == owner,)
        left = None
        for current in allowed:
            result = session.execute(
                update(Trade)
                .where(Trade.id == trade_id, Trade.status == current, *claim)
                .values(status=to, updated_at=now, **values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                left = current
                record_event(session, trade_id, now, current, to, detail, actor)
                break
    if left is not None and not settled_before and to in trade_days.SETTLED:
        trade_days.in_flight(session, trade_id)  # it was `left` until now
    return left is not None


@functools.cache
def _move(allowed: tuple[str, ...], to: str, keys: tuple[str, ...], owned: bool, durable: bool):
    """PostgreSQL: the conditional update and its audit row as one statement, one round
    trip, built once per process for each kind of move (the values go as parameters).
    The row is locked first (``FOR UPDATE``): after waiting for a concurrent move, READ
    COMMITTED checks ``allowed`` again on the row as that move left it, so the status it
    reports leaving is the one it really left, and nobody wins twice. It returns that
    status, nothing if the trade was in none of ``allowed`` (or not ``owner``'s). Not
    ``durable``: the row held also turns ``synchronous_commit`` off for the transaction
    (``set_config``, as ``SET LOCAL``), one round trip less than a statement of its own."""
    column = Trade.__table__.c  # the tables, not the ORM entities: no ORM set-up per move
    claim = (column.claimed_by == bindparam("owner"),) if owned else ()
    relaxed = () if durable else (func.set_config("synchronous_commit", "off", true()),)
    held = (
        select(column.id, column.status, *relaxed)
        .where(column.id == bindparam("trade_id"), db.among(column.status, allowed), *claim)
        .with_for_update()
        .cte("held")
    )
    now = bindparam("now", type_=column.updated_at.type)
    values = {k: bindparam(f"v_{k}", type_=column[k].type) for k in keys}
    moved = (
        update(Trade.__table__)
        .where(column.id == held.c.id)
        .values(status=to, updated_at=now, **values)
        .returning(column.id, held.c.status.label("left"))
        .cte("moved")
    )
    event = TradeEvent.__table__.c
    row = select(
        moved.c.id,
        now,
        moved.c.left,
        literal(to, event.to_status.type),
        bindparam("detail", type_=event.detail.type),
        bindparam("actor", type_=event.actor.type),
    )
    audit = (
        insert(TradeEvent.__table__)
        .from_select(["trade_id", "at", "from_status", "to_status", "detail", "actor"], row)
        .returning(event.id)
        .cte("audit")
    )
    return select(moved.c.left).add_cte(audit)


def record_event(
    session: Session,
    trade_id: int,
    at: datetime,
    from_status: str | None,
    to_status: str,
    detail: str | None,
    actor: str,
) -> None:
    """One trade_events row, written at once (a plain INSERT, no object to flush later)."""
    session.execute(
        insert(TradeEvent).values(
            trade_id=trade_id,
            at=at,
            from_status=from_status,
            to_status=to_status,
            detail=detail,
            actor=actor,
        )
    )


def claim(
    session: Session, trade_id: int, owner: str, now: datetime, lease_seconds: float
) -> str | None:
    """Claim a trade for ``owner`` until ``now + lease_seconds``: a requested or queued one,
    one ``owner`` holds already, or an executing one whose lease has lapsed (its worker
    died; the fill is one transaction, so nothing was filled and running it again is
    safe). The status it now runs in (executing or unwinding; the caller need not read
    it again), None if not claimed.
    Its transaction commits without waiting for the disk: a claim lost with a crashed
    database is claimed again by the task's retry, and anything done under it (a fill, an
    order's legs_sent) commits durably first."""
    until = now + timedelta(seconds=lease_seconds)
    detail = f"claimed by {owner}"
    lease = {"claimed_by": owner, "lease_until": until}
    if transition(session, trade_id, ("requested", "queued"), "executing", now, detail,
                  actor="worker", durable=False, **lease):  # fmt: skip
        return "executing"
    if transition(session, trade_id, (STRANDED,), UNWINDING, now, f"unwind tried again, {detail}",
                  actor="worker", durable=False, **lease):  # fmt: skip
        return UNWINDING
    previous = session.execute(
        select(Trade.status, Trade.claimed_by, Trade.lease_until).where(Trade.id == trade_id)
    ).first()
    if previous is None or previous.status not in RUNNING:
        return None
    db.commit_without_waiting(session)
    lapsed = (
        Trade.lease_until.is_(None) | (Trade.lease_until <= now) | (Trade.claimed_by == owner)
    )  # the same attempt again: a task retry after a database error
    result = session.execute(
        update(Trade)
        .where(Trade.id == trade_id, Trade.status == previous.status, lapsed)
        .values(updated_at=now, **lease)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    detail = (
        f"taken over by {owner}: the lease of {previous.claimed_by} lapsed"
        if previous.claimed_by
        else detail
    )
    record_event(session, trade_id, now, previous.status, previous.status, detail, "worker")
    return previous.status


def lease_left(session: Session, trade_id: int, now: datetime) -> float:
    """Seconds until the claim on an executing trade lapses (0 when it has)."""
    until = session.scalar(select(Trade.lease_until).where(Trade.id == trade_id))
    return max(0.0, (until - now).total_seconds()) if until else 0.0


def renew(session: Session, trade_id: int, owner: str, now: datetime, lease_seconds: float) -> bool:
    """Extend ``owner``'s lease; False when the trade is no longer its to run. On
    PostgreSQL the row stays locked until the caller's transaction ends, so nobody takes
    the trade over while it is being filled (on SQLite this write takes the database's)."""
    result = session.execute(
        update(Trade)
        .where(Trade.id == trade_id, Trade.status.in_(RUNNING), Trade.claimed_by == owner)
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def renew_planned(session: Session, trade_id: int, owner: str, now: datetime, lease_seconds: float):
    """``renew``, answering with what a paper fill needs in the same round trip: the
    trade's size, its opportunity's planned legs (``planned``), and what the daily totals
    key it by (its creation, strategy, user and expected profit). None when it is no
    longer ``owner``'s."""
    until = now + timedelta(seconds=lease_seconds)
    params = {"trade_id": trade_id, "owner": owner, "until": until}
    return session.execute(_RENEW_PLANNED, params).first()


def _renew_planned_statement():
    """``renew_planned``'s statement, built once per process on the tables: no statement
    to build and no ORM entity to set up at each fill."""
    trade, opportunity = Trade.__table__.c, Opportunity.__table__.c
    planned = select(opportunity.legs).where(opportunity.id == trade.opportunity_id)
    return (
        update(Trade.__table__)
        .where(
            trade.id == bindparam("trade_id"),
            db.among(trade.status, RUNNING),
            trade.claimed_by == bindparam("owner"),
        )
        .values(lease_until=bindparam("until", type_=trade.lease_until.type))
        .returning(
            trade.size_usd,
            planned.scalar_subquery().label("planned"),
            trade.created_at,
            trade.strategy,
            trade.requested_by,
            trade.expected_profit_usd,
        )
    )


_RENEW_PLANNED = _renew_planned_statement()


def abandoned(session: Session, now: datetime, since: datetime) -> list[int]:
    """Executing trades whose claim has lapsed: their worker is gone and no redelivery has
    taken them over yet. Those claimed after ``since``, and those with a leg already sent
    to a venue at any age: an order may exist there, so only a lookup may settle them.
    Unwinding ones at any age (they hold money); stranded ones untouched since ``since``,
    to try their unwind again."""
    lapsed = Trade.lease_until.is_(None) | (Trade.lease_until < now)
    recent_or_sent = (Trade.updated_at >= since) | (Trade.legs_sent > 0)
    executing = (Trade.status == "executing") & recent_or_sent
    stranded = (Trade.status == STRANDED) & (Trade.updated_at < since)
    return list(
        session.scalars(
            select(Trade.id).where(lapsed, executing | (Trade.status == UNWINDING) | stranded)
        )
    )


def lost(session: Session, older_than: datetime) -> list[int]:
    """Executing trades untouched since ``older_than`` that sent nothing to a venue: failing
    them loses nothing. A trade with a leg sent is never failed blind (see ``abandoned``)."""
    return list(
        session.scalars(
            select(Trade.id).where(
                Trade.status == "executing",
                Trade.updated_at < older_than,
                Trade.legs_sent == 0,
            )
        )
    )


def stranded(session: Session) -> list[int]:
    """Trades whose unwind is stranded: each holds what its filled legs bought."""
    return list(session.scalars(select(Trade.id).where(Trade.status == STRANDED)))


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
