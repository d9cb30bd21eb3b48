"""Every unit test starts with no upstream state (breakers, token buckets, sessions);
``opportunity`` is a crossed USDT/VES book the scan has turned into one;
``stranded_trade`` a trade of it stranded after its first leg (``sent`` records what is
sent to the worker instead of sending it)."""

import pytest
from sqlalchemy import select

from backend import resilience
from backend.market import ingest
from backend.models import Opportunity
from backend.trading import outbox, trades
from backend.trading.venues import live_spot
from tasks.arbitrage import scan
from tests.factories import ad, book
from tests.unit.test_unwind_execution import stopped_after_leg_1


@pytest.fixture(autouse=True)
def _fresh_upstreams():
    resilience.reset()
    live_spot.forget_throttling()
    yield
    resilience.reset()
    live_spot.forget_throttling()


def crossed_books(now):
    return [
        book(
            "p2p:USDT/VES",
            fetched_at=now,
            asks=[ad(320, 5000, methods=("Banesco",))],
            bids=[ad(330, 5000, methods=("Mercantil",)), ad(318, 9000)],
        )
    ]


@pytest.fixture
def opportunity(app, desk):
    now = desk.now()
    with desk.sessions.begin() as session:
        for b in crossed_books(now):
            ingest.store(session, desk.cache, desk.settings, b, now)
    with app.app_context():
        assert scan.run() == 1
    with desk.sessions() as session:
        return session.scalars(select(Opportunity)).one()


def strand(desk, trade_id: int) -> None:
    with desk.sessions.begin() as session:
        assert trades.transition(
            session, trade_id, ("unwinding",), "stranded", desk.now(),
            "cannot unwind leg 2: books stale; holds 330000 VES at bank:Mercantil:VES",
            actor="worker", error="holds 330000 VES at bank:Mercantil:VES",
        )  # fmt: skip


@pytest.fixture
def stranded_trade(client, desk, opportunity) -> int:
    trade_id = stopped_after_leg_1(client, desk, opportunity)
    strand(desk, trade_id)
    return trade_id


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(outbox, "send", lambda celery, trade_id: calls.append(trade_id) or True)
    return calls
