"""The desk's tables. Money is NUMERIC (Decimal in Python), times are UTC timestamptz."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from backend.types import Money, UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class MarketRow(Base):
    __tablename__ = "markets"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # p2p:USDT/VES
    venue: Mapped[str] = mapped_column(String(8))
    asset: Mapped[str] = mapped_column(String(10))
    fiat: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PriceTick(Base):
    """One row per market per poll: the reference prices at the default ticket."""

    __tablename__ = "price_ticks"

    market: Mapped[str] = mapped_column(String(32), primary_key=True)  # key order: by market
    time: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    best_bid: Mapped[Decimal | None] = mapped_column(Money)
    best_ask: Mapped[Decimal | None] = mapped_column(Money)
    mid: Mapped[Decimal | None] = mapped_column(Money)
    effective_bid: Mapped[Decimal | None] = mapped_column(Money)
    effective_ask: Mapped[Decimal | None] = mapped_column(Money)
    ticket_usd: Mapped[Decimal] = mapped_column(Money)
    bid_depth: Mapped[Decimal] = mapped_column(Money)
    ask_depth: Mapped[Decimal] = mapped_column(Money)


class PriceCandle(Base):
    """One minute of one market's mid: first, highest, lowest and last tick, kept up to date
    by ingest so a chart reads one row per minute however long the history is. On
    TimescaleDB the same name is the continuous aggregate instead (no opened/closed at)."""

    __tablename__ = "price_candles_1m"

    market: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    open: Mapped[Decimal] = mapped_column(Money)
    high: Mapped[Decimal] = mapped_column(Money)
    low: Mapped[Decimal] = mapped_column(Money)
    close: Mapped[Decimal] = mapped_column(Money)
    ticks: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # time of the open tick
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # time of the close tick


class AdSnapshot(Base):
    """An ad as seen at ``time``; written only when the ad changed since the last poll."""

    __tablename__ = "ad_snapshots"

    market: Mapped[str] = mapped_column(String(32), primary_key=True)
    side: Mapped[str] = mapped_column(String(4), primary_key=True)  # ask | bid
    ad_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    price: Mapped[Decimal] = mapped_column(Money)
    quantity: Mapped[Decimal] = mapped_column(Money)
    min_amount: Mapped[Decimal] = mapped_column(Money)
    max_amount: Mapped[Decimal | None] = mapped_column(Money)
    methods: Mapped[str] = mapped_column(String(255))
    advertiser: Mapped[str] = mapped_column(String(64))
    user_type: Mapped[str] = mapped_column(String(10))
    month_orders: Mapped[int] = mapped_column(Integer)
    finish_rate: Mapped[Decimal] = mapped_column(Money)


class LatestBook(Base):
    """The newest normalized book per market: Redis' fallback and the web's source."""

    __tablename__ = "latest_books"

    market: Mapped[str] = mapped_column(String(32), primary_key=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    book: Mapped[dict] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # last ingest failure, if any
    # The Prices row ingest computed for this book, as the JSON the API sends (kept apart
    # from the book so a reader never parses the ads to get it).
    board: Mapped[str | None] = mapped_column(Text)


class Opportunity(Base):
    __tablename__ = "opportunities"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(255), index=True)
    strategy: Mapped[str] = mapped_column(String(20))
    legs: Mapped[list] = mapped_column(JSON)
    size_usd: Mapped[Decimal] = mapped_column(Money)
    profit_usd: Mapped[Decimal] = mapped_column(Money)
    profit_bps: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Trade(Base):
    __tablename__ = "trades"
    # a key is its sender's: another user's request under the same key is its own
    __table_args__ = (
        UniqueConstraint(
            "requested_by", "idempotency_key", name="uq_trades_requested_by_idempotency_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"))
    requested_by: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10), default="paper")
    status: Mapped[str] = mapped_column(String(20), index=True)
    size_usd: Mapped[Decimal] = mapped_column(Money)
    expected_profit_usd: Mapped[Decimal] = mapped_column(Money)
    profit_usd: Mapped[Decimal | None] = mapped_column(Money)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # while executing: the worker attempt that owns it, and until when its claim holds
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # live: the highest leg sent to a venue (committed before the call), so a takeover
    # neither checks the trade again nor forgets that an order may already exist
    legs_sent: Mapped[int] = mapped_column(Integer, default=0)

    legs: Mapped[list[TradeLeg]] = relationship(order_by="TradeLeg.seq", lazy="selectin")


class TradeLeg(Base):
    __tablename__ = "trade_legs"

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    market: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    method: Mapped[str | None] = mapped_column(String(40))
    price: Mapped[Decimal] = mapped_column(Money)
    sell_currency: Mapped[str] = mapped_column(String(10))
    sell_amount: Mapped[Decimal] = mapped_column(Money)
    buy_currency: Mapped[str] = mapped_column(String(10))
    buy_amount: Mapped[Decimal] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money)
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TradeDay(Base):
    """The trade history added up per UTC day (backend.trading.trade_days): one row per
    (day, market, strategy, status, user). ``market`` "*" counts each trade once; a leg
    market's row counts each trade with a leg there once."""

    __tablename__ = "trade_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    market: Mapped[str] = mapped_column(String(32), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(64), primary_key=True)
    trades: Mapped[int] = mapped_column(Integer)
    realized: Mapped[int] = mapped_column(Integer)  # of them, trades with a profit
    size_usd: Mapped[Decimal] = mapped_column(Money)
    expected_profit_usd: Mapped[Decimal] = mapped_column(Money)
    profit_usd: Mapped[Decimal] = mapped_column(Money)


class TradeBucket(Base):
    """Realized profit of settled trades per 5 minutes (backend.trading.trade_buckets),
    keyed as trade_days: what a short P&L curve adds up. ``bucket`` is the UTC epoch
    second // 300; the key starts with the market so a curve reads one index range."""

    __tablename__ = "trade_buckets"

    market: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(64), primary_key=True)
    realized: Mapped[int] = mapped_column(Integer)  # trades with a profit
    profit_usd: Mapped[Decimal] = mapped_column(Money)


class TradeHour(Base):
    """The trade history added up per UTC hour (backend.trading.trade_hours), every field
    of trade_days: the whole hours of a partial day. ``hour`` is the UTC epoch second //
    3600; the key starts with the market so a range reads one index range."""

    __tablename__ = "trade_hours"

    market: Mapped[str] = mapped_column(String(32), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(64), primary_key=True)
    trades: Mapped[int] = mapped_column(Integer)
    realized: Mapped[int] = mapped_column(Integer)  # of them, trades with a profit
    size_usd: Mapped[Decimal] = mapped_column(Money)
    expected_profit_usd: Mapped[Decimal] = mapped_column(Money)
    profit_usd: Mapped[Decimal] = mapped_column(Money)


class TradeEvent(Base):
    """Audit trail: one row per status transition, written in the same transaction."""

    __tablename__ = "trade_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(64))  # a user, or "worker"/"sweeper"


class Account(Base):
    """Where money sits: ``binance:USDT``, ``bank:Banesco:VES``, ``fees:p2p:USDT``,
    ``equity:USDT`` (the owners' side of deposits), ``market:<market>:<cur>`` (the
    counterparties of fills). Its balance is the sum of its postings, never stored."""

    __tablename__ = "accounts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))  # house | fees | equity | market
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JournalEntry(Base):
    """One balanced movement of money: a fill, or an admin's deposit, withdrawal or
    adjustment with who and why."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(12))  # fill | deposit | withdraw | adjust
    trade_id: Mapped[int | None] = mapped_column(ForeignKey("trades.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)


class Posting(Base):
    """One side of an entry: ``amount`` into (+) or out of (-) ``account``."""

    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    trade_id: Mapped[int | None] = mapped_column(ForeignKey("trades.id"), index=True)
    account: Mapped[str] = mapped_column(ForeignKey("accounts.name"), index=True)
    currency: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LiquidityTake(Base):
    """What a fill took from an ad of the book fetched at ``fetched_at``: later scans and
    executions see the ad reduced by it until a fresher book replaces that one."""

    __tablename__ = "liquidity_takes"
    __table_args__ = (Index("ix_liquidity_takes_market_fetched_at", "market", "fetched_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    market: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))  # the taker's side: BUY takes asks
    ad_no: Mapped[str] = mapped_column(String(40))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    quantity: Mapped[Decimal] = mapped_column(Money)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id"), index=True)


class Setting(Base):
    """Values every worker acts on (kill switch, thresholds): one place, not process memory."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """A desk login. ``session_version`` changes with the password, role or status, which
    ends every session opened before the change."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="trader")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    locale: Mapped[str | None] = mapped_column(String(8))  # the UI language this user chose


class ApiToken(Base):
    """A script's credential: only the SHA-256 of the token is kept; it is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class AuthState(Base):
    """One row: a generation that database triggers bump on every change to a login or a
    token (``last_used_at`` aside), so a process knows at once when what it remembers of
    them is out of date (see ``backend.web.credentials``)."""

    __tablename__ = "auth_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class AuthEvent(Base):
    """Who logged in or failed to, and every change to users and tokens."""

    __tablename__ = "auth_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(24))  # login_ok, login_failed, token_created, ...
    username: Mapped[str] = mapped_column(String(64))  # as typed, for failed logins too
    actor: Mapped[str | None] = mapped_column(String(64))  # who made the change, if not them
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class ControlChange(Base):
    """History of the kill switch and limits: who changed what, when and why."""

    __tablename__ = "control_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    key: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)


class OperatorTicket(Base):
    """A live P2P leg an operator carries out by hand: Binance has no API to place P2P
    orders. ``instructions`` holds the ads to take; the operator confirms what really
    happened (amounts, a reference) or cancels. One ticket per trade leg."""

    __tablename__ = "operator_tickets"
    __table_args__ = (UniqueConstraint("trade_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    market: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))  # BUY: pay fiat, get the asset
    method: Mapped[str | None] = mapped_column(String(40))
    sell_currency: Mapped[str] = mapped_column(String(10))
    buy_currency: Mapped[str] = mapped_column(String(10))
    planned_sell: Mapped[Decimal] = mapped_column(Money)  # fiat to pay or asset to release
    planned_buy: Mapped[Decimal] = mapped_column(Money)
    instructions: Mapped[list] = mapped_column(JSON)  # the ads: advertiser, price, limits...
    status: Mapped[str] = mapped_column(String(12), index=True)  # open|confirmed|cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the fetch of the book the ticket was priced on: what it takes is recorded against it
    book_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    sell_amount: Mapped[Decimal | None] = mapped_column(Money)  # as confirmed
    buy_amount: Mapped[Decimal | None] = mapped_column(Money)
    fee: Mapped[Decimal | None] = mapped_column(Money)
    reference: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


# The daily rollup follows every change to trades made through a Session in any process
# that maps these tables (web, workers, scripts, tests): its listeners come with them.
from backend.trading import trade_buckets, trade_days, trade_hours  # noqa: E402, F401
