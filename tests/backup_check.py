"""A desk with history, and what a backup must bring back: trades, events, users, settings."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import delete, select

from backend.market import ingest
from backend.models import (
    JournalEntry,
    LiquidityTake,
    Opportunity,
    Posting,
    Setting,
    Trade,
    TradeEvent,
    TradeLeg,
    User,
)
from backend.trading import balances, executor, trades
from tasks.arbitrage import scan
from tests.conftest import ROOT, add_user
from tests.factories import ad, book


def desk_cli(settings, *args: str) -> subprocess.CompletedProcess:
    """``python -m backend ARGS`` against ``settings``' database, as an operator runs it."""
    env = {"DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"}
    if not settings.embedded:
        env["SECRET_KEY"] = settings.secret_key
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_history(app) -> int:
    """One filled paper trade, a user and a changed control; returns the trade's id."""
    desk = app.extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        ingest.store(
            session,
            desk.cache,
            desk.settings,
            book(
                "p2p:USDT/VES",
                fetched_at=now,
                asks=[ad(320, 5000, methods=("Banesco",))],
                bids=[ad(330, 5000, methods=("Mercantil",))],
            ),
            now,
        )
    with app.app_context():
        scan.run()
    add_user(desk, "backup-trader", "trader")
    with desk.sessions.begin() as session:
        opportunity = session.scalars(select(Opportunity)).first()
        trade, _ = trades.request_trade(
            session,
            opportunity_id=opportunity.id,
            size="500",
            key="backup-round-trip",
            user="backup-trader",
            now=now,
        )
        trade_id = trade.id
        session.merge(Setting(key="min_profit_usd", value="2.50", updated_at=now))
        balances.move(session, "deposit", "binance:USDT", "1000", actor="test", reason="r", now=now)
    assert executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now) == (
        "filled"
    )
    return trade_id


def snapshot(app) -> dict:
    desk = app.extensions["desk"]
    with desk.sessions() as session:
        return {
            "trades": [
                (t.id, t.status, t.size_usd, t.profit_usd, t.requested_by)
                for t in session.scalars(select(Trade).order_by(Trade.id))
            ],
            "legs": [
                (leg.trade_id, leg.seq, leg.sell_amount, leg.buy_amount)
                for leg in session.scalars(select(TradeLeg).order_by(TradeLeg.id))
            ],
            "events": [
                (e.trade_id, e.from_status, e.to_status)
                for e in session.scalars(select(TradeEvent).order_by(TradeEvent.id))
            ],
            "users": [
                (u.username, u.role, u.password_hash)
                for u in session.scalars(select(User).order_by(User.id))
            ],
            "settings": {s.key: s.value for s in session.scalars(select(Setting))},
            "postings": [
                (p.trade_id, p.account, p.amount)
                for p in session.scalars(select(Posting).order_by(Posting.id))
            ],
        }


def wreck(app) -> None:
    """What a bad day does: rows gone, a control changed."""
    desk = app.extensions["desk"]
    with desk.sessions.begin() as session:
        for model in (Posting, JournalEntry, LiquidityTake, TradeEvent, TradeLeg, Trade):
            session.execute(delete(model))
        session.execute(delete(User).where(User.username == "backup-trader"))
        session.merge(Setting(key="min_profit_usd", value="99", updated_at=desk.now()))
