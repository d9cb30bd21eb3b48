"""A trade from the API to `filled`, executed by a real Celery worker over RabbitMQ,
on PostgreSQL, with the latest books in Redis."""

import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.market import ingest
from tasks.arbitrage import scan
from tests.conftest import api_client
from tests.factories import ad, book
from tests.unit.test_metrics import sample

D = Decimal


def wait_final(client, trade_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/trades/{trade_id}").json
        if body["status"] in ("filled", "rejected", "failed"):
            return body
        time.sleep(0.2)
    pytest.fail(f"trade {trade_id} still {body['status']} after {timeout} s")


@pytest.fixture
def fresh_opportunity(service_app):
    desk = service_app.extensions["desk"]
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
                bids=[ad(331, 5000, methods=("Mercantil",)), ad(318, 9000)],
            ),
            now,
        )
    with service_app.app_context():
        assert scan.run() >= 1
    client = api_client(service_app)
    return client.get("/api/v1/opportunities").json["opportunities"][0]


def test_a_trade_requested_through_the_api_ends_filled_by_the_worker(
    service_app, celery_worker, fresh_opportunity
):
    client = api_client(service_app)
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": fresh_opportunity["id"], "size": "1000"},
        headers={"Idempotency-Key": "e2e-1"},
    )
    assert r.status_code == 201, r.json
    body = wait_final(client, r.json["id"])
    assert body["status"] == "filled", body
    flows = {}
    for leg in body["legs"]:
        flows[leg["sell_currency"]] = flows.get(leg["sell_currency"], 0) - D(leg["sell_amount"])
        flows[leg["buy_currency"]] = flows.get(leg["buy_currency"], 0) + D(leg["buy_amount"])
    assert flows["VES"] == 0 and D(body["profit_usd"]) == flows["USDT"] > 0
    statuses = [e["to"] for e in body["events"]]
    # "queued" may lose the race to the worker's claim; the audit shows what really happened
    assert statuses[0] == "requested" and statuses[-2:] == ["executing", "filled"]

    metrics = client.get("/api/v1/metrics").text  # the worker's processes write there too
    assert sample(metrics, "trades_executed_total", status="filled") >= 1
    assert sample(metrics, "celery_tasks_total", task="tasks.trading.execute", state="SUCCESS") >= 1


def executions(client) -> float:
    return sample(
        client.get("/api/v1/metrics").text,
        "celery_tasks_total",
        task="tasks.trading.execute",
        state="SUCCESS",
    )


def test_a_duplicate_delivery_of_the_same_trade_changes_nothing(
    service_app, celery_worker, fresh_opportunity
):
    client = api_client(service_app)
    trade_id = client.post(
        "/api/v1/trades",
        json={"opportunity_id": fresh_opportunity["id"]},
        headers={"Idempotency-Key": "e2e-dup"},
    ).json["id"]
    first = wait_final(client, trade_id)
    done = executions(client)
    service_app.extensions["celery"].send_task(
        "tasks.trading.execute", args=[trade_id], queue="trading"
    )
    deadline = time.monotonic() + 20
    while executions(client) == done:  # wait until the worker has handled the duplicate
        assert time.monotonic() < deadline, "the duplicate was never consumed"
        time.sleep(0.2)
    again = client.get(f"/api/v1/trades/{trade_id}").json
    assert again["legs"] == first["legs"] and again["events"] == first["events"]
    assert again["profit_usd"] == first["profit_usd"]


def test_money_keeps_every_digit_in_postgresql(service_app):
    from backend.models import Posting
    from backend.trading import balances, ledger

    desk = service_app.extensions["desk"]
    exact = D("123456789.123456789012345678")
    with desk.sessions.begin() as session:
        entry = balances.move(
            session, "deposit", "bank:Exact:VES", str(exact), actor="t", reason="r", now=desk.now()
        )
    with desk.sessions() as session:
        assert ledger.balances(session, {"bank:Exact:VES"}) == {"bank:Exact:VES": exact}
        row = session.scalars(select(Posting).where(Posting.entry_id == entry.id)).first()
        assert row.amount == exact and row.at.utcoffset().total_seconds() == 0
