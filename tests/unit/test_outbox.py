"""The outbox: a request is stored even when the broker is down, answered fast, and the
sweeper queues it once the broker is back."""

import time

from sqlalchemy import select

from backend.market import ingest
from backend.models import Trade
from tasks.arbitrage import scan
from tasks.trading import sweep
from tests.conftest import api_client, embedded_settings, free_port, prepared_app
from tests.unit.conftest import crossed_books


def test_a_dead_broker_leaves_the_request_stored_and_answers_fast(tmp_path):
    app = prepared_app(
        embedded_settings(tmp_path, rabbitmq_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    )
    desk = app.extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        for b in crossed_books(now):
            ingest.store(session, desk.cache, desk.settings, b, now)
    client = api_client(app)
    with app.app_context():
        scan.run()
        opp_id = client.get("/api/v1/opportunities").json["opportunities"][0]["id"]
    start = time.monotonic()
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opp_id},
        headers={"Idempotency-Key": "broker-down"},
    )
    assert time.monotonic() - start < 8
    assert r.status_code == 201 and r.json["status"] == "requested"

    # A worker whose broker answers (the embedded queue, same database) sweeps the outbox.
    healthy = prepared_app(embedded_settings(tmp_path))
    with desk.sessions.begin() as session:
        session.get(Trade, r.json["id"]).updated_at = now.replace(year=now.year - 1)
    with healthy.app_context():
        assert sweep.run() == 1
    with desk.sessions() as session:
        assert session.scalar(select(Trade.status)) == "queued"
