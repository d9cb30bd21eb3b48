"""Every unit test starts with no upstream state (breakers, token buckets, sessions);
``opportunity`` is a crossed USDT/VES book the scan has turned into one."""

import pytest
from sqlalchemy import select

from backend import resilience
from backend.market import ingest
from backend.models import Opportunity
from tasks.arbitrage import scan
from tests.factories import ad, book


@pytest.fixture(autouse=True)
def _fresh_upstreams():
    resilience.reset()
    yield
    resilience.reset()


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
