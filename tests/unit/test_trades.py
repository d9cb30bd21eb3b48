"""Trade requests through the JSON API and the paper executor, on the embedded SQLite."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.models import Opportunity, Trade, TradeEvent
from backend.trading import controls, executor, trades
from tasks.arbitrage import scan
from tests.conftest import add_token, add_user

D = Decimal


def post(client, body, key="key-1"):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/trades", json=body, headers=headers)


def count(desk, model):
    with desk.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_request_is_stored_queued_and_answered_with_its_id(client, desk, opportunity):
    r = post(client, {"opportunity_id": opportunity.id})
    assert r.status_code == 201
    assert r.json["status"] == "queued"
    assert D(r.json["size_usd"]) == opportunity.size_usd  # the opportunity's own size
    events = client.get(f"/api/v1/trades/{r.json['id']}").json["events"]
    assert [(e["from"], e["to"]) for e in events] == [(None, "requested"), ("requested", "queued")]


def test_a_request_is_stored_with_its_audit_row_naming_who_asked_and_how(desk, opportunity):
    """The row and its audit row are one statement on PostgreSQL: both as asked."""
    now = desk.now()
    with desk.sessions.begin() as session:
        trade, created = trades.request_trade(
            session, opportunity_id=opportunity.id, size=None, key="audit", user="ana",
            now=now, via="api",
        )  # fmt: skip
    assert created
    with desk.sessions() as session:
        stored = session.get(Trade, trade.id)
        [event] = trades.events(session, trade.id)
    assert (stored.status, stored.requested_by, stored.size_usd, stored.expected_profit_usd) == (
        "requested", "ana", opportunity.size_usd, opportunity.profit_usd,
    )  # fmt: skip
    assert (event.at, event.from_status, event.to_status, event.actor, event.detail) == (
        now, None, "requested", "ana", "requested by ana (api)",
    )  # fmt: skip


def test_the_same_idempotency_key_returns_the_same_trade(client, desk, opportunity):
    first = post(client, {"opportunity_id": opportunity.id, "size": "500"})
    again = post(client, {"opportunity_id": opportunity.id, "size": "500"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"]
    assert count(desk, Trade) == 1


@pytest.mark.parametrize(
    "body,key,status,message",
    [
        ({"opportunity_id": 1}, None, 400, "Idempotency-Key"),
        ({"opportunity_id": "1"}, "k", 422, "integer"),
        ({"opportunity_id": 1, "size": "-5"}, "k", 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": "lots"}, "k", 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": "NaN"}, "k", 422, "not an amount of USD"),
        ({"opportunity_id": 999}, "k", 404, "does not exist"),
    ],
)
def test_bad_requests_get_a_clear_message_and_change_nothing(
    client, desk, opportunity, body, key, status, message
):
    r = post(client, body, key=key)
    assert r.status_code == status
    assert message in r.json["error"]
    assert count(desk, Trade) == 0 and count(desk, TradeEvent) == 0


def test_reusing_a_key_for_another_request_is_refused(client, desk, opportunity):
    post(client, {"opportunity_id": opportunity.id, "size": "500"})
    r = post(client, {"opportunity_id": opportunity.id, "size": "700"})
    assert r.status_code == 409 and "different request" in r.json["error"]


def test_a_key_is_its_senders_another_traders_same_key_is_their_own_request(
    app, client, desk, opportunity
):
    """Two traders who happen to pick one key each get their own trade; neither is told
    the other's trade is theirs, or that the key exists."""
    add_user(desk, "second-trader", "trader")
    second = app.test_client()
    second.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {add_token(desk, 'second-trader')}"
    first = post(client, {"opportunity_id": opportunity.id, "size": "100"}, key="shared")
    theirs = post(second, {"opportunity_id": opportunity.id, "size": "200"}, key="shared")
    assert (first.status_code, theirs.status_code) == (201, 201)
    assert theirs.json["id"] != first.json["id"]
    assert (first.json["requested_by"], theirs.json["requested_by"]) == (
        "test-trader",
        "second-trader",
    )
    again = post(second, {"opportunity_id": opportunity.id, "size": "200"}, key="shared")
    assert (again.status_code, again.json["id"]) == (200, theirs.json["id"])
    assert count(desk, Trade) == 2


def test_a_body_that_is_not_json_is_refused(client, opportunity):
    r = client.post("/api/v1/trades", data="opportunity_id=1", headers={"Idempotency-Key": "k"})
    assert r.status_code == 400 and "JSON object" in r.json["error"]


def test_the_paper_executor_fills_and_profit_equals_the_legs(client, desk, opportunity):
    trade_id = post(client, {"opportunity_id": opportunity.id, "size": "1000"}).json["id"]
    status = executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now)
    assert status == "filled"
    body = client.get(f"/api/v1/trades/{trade_id}").json
    legs = body["legs"]
    assert [leg["side"] for leg in legs] == ["SELL", "BUY"]
    usdt = sum(D(leg["buy_amount"]) for leg in legs if leg["buy_currency"] == "USDT") - sum(
        D(leg["sell_amount"]) for leg in legs if leg["sell_currency"] == "USDT"
    )
    ves = sum(D(leg["buy_amount"]) for leg in legs if leg["buy_currency"] == "VES") - sum(
        D(leg["sell_amount"]) for leg in legs if leg["sell_currency"] == "VES"
    )
    assert ves == 0
    assert D(body["profit_usd"]) == usdt > 0
    # slippage makes the paper fill a little worse than the scan's estimate
    assert D(body["profit_usd"]) < D(1000) * D(330) / D(320) - D(1000)
    assert [e["to"] for e in body["events"]][-2:] == ["executing", "filled"]


def test_a_second_delivery_does_not_run_the_trade_twice(client, desk, opportunity):
    trade_id = post(client, {"opportunity_id": opportunity.id}).json["id"]
    run = lambda: executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now)  # noqa: E731
    assert run() == "filled"
    assert run() == "filled"
    assert len(client.get(f"/api/v1/trades/{trade_id}").json["legs"]) == 2


def test_the_kill_switch_rejects_with_its_reason(client, desk, opportunity):
    with desk.sessions.begin() as session:
        controls.change(session, "kill_switch", "true", actor="test", now=desk.now())
    trade_id = post(client, {"opportunity_id": opportunity.id}).json["id"]
    assert (
        executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now) == "rejected"
    )
    body = client.get(f"/api/v1/trades/{trade_id}").json
    assert body["error"] == "kill switch is on" and body["legs"] == []


def test_stale_books_are_never_traded_on(client, desk, opportunity):
    trade_id = post(client, {"opportunity_id": opportunity.id}).json["id"]
    age = timedelta(seconds=desk.settings.stale_after_seconds + 1)
    later = lambda: desk.now() + age  # noqa: E731
    assert executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, later) == "rejected"
    assert "stale prices: p2p:USDT/VES" in client.get(f"/api/v1/trades/{trade_id}").json["error"]


def test_an_expired_opportunity_cannot_be_requested(client, desk, opportunity):
    with desk.sessions.begin() as session:
        session.get(Opportunity, opportunity.id).status = "expired"
    r = post(client, {"opportunity_id": opportunity.id})
    assert r.status_code == 409 and "expired" in r.json["error"]


def test_a_database_hiccup_is_retried_by_the_task_and_counted(app, desk, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from backend.trading import opportunities
    from tests.unit.test_metrics import sample

    real, calls = opportunities.record_scan, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE opportunities", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(opportunities, "record_scan", flaky)
    before = sample(
        app.test_client().get("/api/v1/metrics").text,
        "celery_task_retries_total",
        task="tasks.arbitrage.scan",
    )
    with app.app_context():
        scan.apply()
    assert len(calls) == 2
    after = sample(
        app.test_client().get("/api/v1/metrics").text,
        "celery_task_retries_total",
        task="tasks.arbitrage.scan",
    )
    assert after == before + 1


def test_a_key_used_before_answers_with_its_trade_after_the_opportunity_expired(
    client, desk, opportunity
):
    first = post(client, {"opportunity_id": opportunity.id, "size": "500"})
    with desk.sessions.begin() as session:
        session.get(Opportunity, opportunity.id).status = "expired"
    again = post(client, {"opportunity_id": opportunity.id, "size": "500"})
    other = post(client, {"opportunity_id": opportunity.id, "size": "700"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    assert other.status_code == 409 and "different request" in other.json["error"]
    assert count(desk, Trade) == 1


def test_a_size_exactly_at_either_bound_is_a_ticket_and_a_cent_past_it_is_not():
    from backend.trading.trades import MAX_SIZE_USD, TradeRequestError, parse_size

    assert parse_size("10", Decimal(10)) == Decimal(10)
    assert parse_size(str(MAX_SIZE_USD)) == MAX_SIZE_USD == Decimal(1_000_000)
    with pytest.raises(TradeRequestError, match="at least 10 USD"):
        parse_size("9.99", Decimal(10))
    with pytest.raises(TradeRequestError, match="at most 1000000 USD"):
        parse_size("1000000.01")


def test_an_idempotency_key_of_100_characters_is_taken_and_of_101_refused(
    client, desk, opportunity
):
    assert post(client, {"opportunity_id": opportunity.id}, key="k" * 100).status_code == 201
    r = post(client, {"opportunity_id": opportunity.id}, key="k" * 101)
    assert r.status_code == 400 and "1 to 100 printable characters" in r.json["error"]
    assert count(desk, Trade) == 1
