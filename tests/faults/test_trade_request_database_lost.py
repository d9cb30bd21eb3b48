"""PostgreSQL cut (behind a proxy) in the moment after a trade request is stored and its
message sent: the trader is told the trade exists, never "try again", and it runs once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend import create_app, seed
from backend.market import ingest
from backend.models import Trade
from backend.trading import executor, outbox
from tasks.arbitrage import scan
from tests.conftest import api_client
from tests.faults.conftest import migrated_behind_proxy
from tests.integration.conftest import make_pg_database  # noqa: F401
from tests.unit.conftest import crossed_books
from tests.unit.test_access import callback_body


@pytest.fixture
def desk_and_proxy(make_pg_database):  # noqa: F811
    settings, proxy = migrated_behind_proxy(make_pg_database(), ["p2p:USDT/VES", "p2p:USDT/COP"])
    app = create_app(settings)
    desk = app.extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        seed.seed(session, settings, now, paper=True)
        for book in crossed_books(now):
            ingest.store(session, desk.cache, settings, book, now)
    with app.app_context():
        assert scan.run() == 1
    yield app, proxy
    proxy.close()


def execute_callback(opportunity_id: int, key: str) -> dict:
    return callback_body(
        "..execute-trade.data...execute-follow.disabled...execute-status.children"
        "...execute-confirm.disabled..",
        [{"id": "execute-confirm", "property": "n_clicks", "value": 1}],
        [
            {"id": "execute-size", "property": "value", "value": "500"},
            {"id": "execute-pending", "property": "data",
             "value": {"opportunity_id": opportunity_id, "key": key}},
        ],
    )  # fmt: skip


@pytest.mark.parametrize("via", ["api", "execute dialog"])
def test_a_trade_stored_just_before_the_database_went_is_answered_as_stored(
    desk_and_proxy, monkeypatch, via
):
    app, proxy = desk_and_proxy
    desk = app.extensions["desk"]
    client = api_client(app)
    opportunity_id = client.get("/api/v1/opportunities").json["opportunities"][0]["id"]
    sent = []

    def sent_then_the_database_goes(celery, trade_id):
        sent.append(trade_id)
        proxy.set("cut")
        return True

    monkeypatch.setattr(outbox, "send", sent_then_the_database_goes)
    if via == "api":
        r = client.post(
            "/api/v1/trades",
            json={"opportunity_id": opportunity_id, "size": "500"},
            headers={"Idempotency-Key": "cut-after-send"},
        )
        proxy.set("pass")
        # was a 503 "the database is not answering; try again shortly" for a stored trade
        assert r.status_code == 201, r.text
        assert (r.json["id"], r.json["status"]) == (sent[0], "requested")
    else:
        r = client.post("/_dash-update-component", json=execute_callback(opportunity_id, "k"))
        proxy.set("pass")
        assert r.status_code == 200, r.text
        answer = r.json["response"]
        assert answer["execute-trade"]["data"] == sent[0]
        assert "Trade #" in str(answer["execute-status"]["children"])
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Trade)) == 1
        assert session.get(Trade, sent[0]).status == "requested"  # the worker's claim takes it
    assert executor.execute(desk.sessions, desk.cache, desk.settings, sent[0], desk.now) == "filled"
