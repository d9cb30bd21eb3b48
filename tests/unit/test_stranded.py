"""A person acts on a stranded trade: a trader retries its unwind now, an admin closes it
holding what its legs bought. Anything not stranded is refused and left as it was."""

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backend.models import Trade, TradeEvent
from backend.ops import metrics
from backend.trading import executor, ledger, outbox, stranded, trade_days, trades
from backend.trading.trades import TradeRequestError
from tests.conftest import api_client
from tests.unit.test_unwind_execution import stopped_after_leg_1


def state(desk, trade_id: int):
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        n = session.scalar(select(func.count()).where(TradeEvent.trade_id == trade_id))
        return trade.status, trade.profit_usd, n


def test_closing_keeps_what_the_legs_bought_profit_is_their_cash_flows(desk, stranded_trade):
    with desk.sessions.begin() as session:
        profit = stranded.close(
            session, stranded_trade, reason="  keep the VES  ", actor="ana", now=desk.now()
        )
    assert profit == D("-1000")  # sold 1000 USDT, bought VES it keeps: no USDT came back
    with desk.sessions() as session:
        trade = session.get(Trade, stranded_trade)
        assert (trade.status, trade.profit_usd) == ("closed", D("-1000"))
        last = trades.events(session, stranded_trade)[-1]
        assert (last.from_status, last.to_status, last.actor) == ("stranded", "closed", "ana")
        assert last.detail == "closed holding by ana: keep the VES; profit -1000.00 USD"
        assert ledger.check(session) + trade_days.drift(session) == []
        # the day's realized loss (the daily loss limit reads it) counts it
        assert executor.today(session, desk.now()).profit_usd == D("-1000")
    with desk.sessions.begin() as session:  # a closed trade's profit is checked like any
        session.get(Trade, stranded_trade).profit_usd = D("-999")
    with desk.sessions() as session:
        assert (
            f"trade {stranded_trade}: profit -999 USD but its legs' cash flows sum to -1000"
            in ledger.check(session)
        )


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501, "a\nb", 5])
def test_closing_needs_a_reason_of_1_to_500_characters(desk, stranded_trade, reason):
    before = state(desk, stranded_trade)
    with desk.sessions.begin() as session, pytest.raises(TradeRequestError) as refused:
        stranded.close(session, stranded_trade, reason=reason, actor="ana", now=desk.now())
    assert refused.value.status == 422
    assert "reason of 1 to 500" in refused.value.message
    assert state(desk, stranded_trade) == before


def test_a_reason_of_exactly_500_characters_is_enough(desk, stranded_trade):
    with desk.sessions.begin() as session:
        stranded.close(session, stranded_trade, reason="x" * 500, actor="ana", now=desk.now())
    assert state(desk, stranded_trade)[0] == "closed"


@pytest.mark.parametrize("action", ["retry", "close"])
def test_only_a_stranded_trade_is_acted_on(client, desk, opportunity, action):
    trade_id = stopped_after_leg_1(client, desk, opportunity)  # unwinding, not stranded
    before = state(desk, trade_id)
    extra = {"reason": "keep it"} if action == "close" else {}
    with desk.sessions.begin() as session, pytest.raises(TradeRequestError) as refused:
        getattr(stranded, action)(session, trade_id, actor="ana", now=desk.now(), **extra)
    assert refused.value.status == 409
    assert f"trade {trade_id} is unwinding, not stranded" in refused.value.message
    assert state(desk, trade_id) == before


def test_a_retry_is_audited_and_leaves_the_trade_to_the_workers_claim(desk, stranded_trade):
    with desk.sessions.begin() as session:
        stranded.retry(session, stranded_trade, actor="bob", now=desk.now())
    with desk.sessions() as session:
        last = trades.events(session, stranded_trade)[-1]
        assert (last.from_status, last.to_status, last.actor, last.detail) == (
            "stranded", "stranded", "bob", "unwind retried by bob"
        )  # fmt: skip
        assert session.get(Trade, stranded_trade).status == "stranded"
    # the worker that picks it up unwinds it: books are fresh now
    assert executor.execute(desk.sessions, desk.cache, desk.settings, stranded_trade,
                            desk.now) == "unwound"  # fmt: skip


# --- over the JSON API -------------------------------------------------------------------


def test_a_trader_retries_the_unwind_now(client, desk, stranded_trade, sent):
    r = client.post(f"/api/v1/trades/{stranded_trade}/retry-unwind")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "stranded"
    assert sent == [stranded_trade]
    assert r.json["events"][-1]["detail"] == "unwind retried by test-trader"


def test_a_viewer_may_not_retry_and_a_trader_may_not_close(app, client, desk, stranded_trade, sent):
    before = state(desk, stranded_trade)
    viewer = api_client(app, "viewer")
    assert viewer.post(f"/api/v1/trades/{stranded_trade}/retry-unwind").status_code == 403
    r = client.post(f"/api/v1/trades/{stranded_trade}/close", json={"reason": "keep it"})
    assert r.status_code == 403
    assert sent == []
    assert state(desk, stranded_trade) == before


def test_an_admin_closes_it_holding(app, desk, stranded_trade):
    with desk.sessions() as session:
        trade = session.get(Trade, stranded_trade)
        labels = {"strategy": trade.strategy, "mode": trade.mode, "status": "closed"}
    closed = metrics.TRADES_EXECUTED.labels(**labels)
    before = closed._value.get()
    admin = api_client(app, "admin")
    r = admin.post(f"/api/v1/trades/{stranded_trade}/close", json={"reason": "keep the VES"})
    assert r.status_code == 200, r.json
    assert (r.json["status"], D(r.json["profit_usd"])) == ("closed", D("-1000"))
    event = r.json["events"][-1]
    assert event["actor"] == "test-admin"
    assert "keep the VES" in event["detail"]
    with desk.sessions() as session:
        assert ledger.check(session) + trade_days.drift(session) == []
    again = admin.post(f"/api/v1/trades/{stranded_trade}/close", json={"reason": "twice"})
    assert again.status_code == 409
    assert "is closed, not stranded" in again.json["error"]
    assert closed._value.get() == before + 1  # counted once, after its commit


def test_the_api_refuses_what_is_not_stranded_or_missing_and_changes_nothing(
    app, client, desk, opportunity, sent
):
    trade_id = stopped_after_leg_1(client, desk, opportunity)
    sent.clear()  # its request was queued
    before = state(desk, trade_id)
    admin = api_client(app, "admin")
    r = client.post(f"/api/v1/trades/{trade_id}/retry-unwind")
    assert (r.status_code, r.json["error"]) == (
        409, f"trade {trade_id} is unwinding, not stranded: only a stranded trade can have "
        "its unwind retried",
    )  # fmt: skip
    assert admin.post(f"/api/v1/trades/{trade_id}/close", json={"reason": "x"}).status_code == 409
    assert sent == []
    assert state(desk, trade_id) == before
    assert client.post("/api/v1/trades/999999/retry-unwind").status_code == 404
    assert admin.post("/api/v1/trades/999999/close", json={"reason": "x"}).status_code == 404


def test_close_bodies_that_are_refused(app, desk, stranded_trade):
    before = state(desk, stranded_trade)
    admin = api_client(app, "admin")
    url = f"/api/v1/trades/{stranded_trade}/close"
    assert admin.post(url, json=["keep"]).status_code == 400
    assert admin.post(url, json={"reason": "keep", "profit": "5"}).status_code == 400
    assert admin.post(url, json={}).status_code == 422
    assert admin.post(url, json={"reason": "y" * 501}).status_code == 422
    assert state(desk, stranded_trade) == before


def test_a_broker_that_refuses_the_retry_is_named(client, desk, stranded_trade, monkeypatch):
    monkeypatch.setattr(outbox, "send", lambda celery, trade_id: False)
    r = client.post(f"/api/v1/trades/{stranded_trade}/retry-unwind")
    assert r.status_code == 503
    assert "the sweeper tries again" in r.json["error"]


# --- on the command line -----------------------------------------------------------------


def test_the_command_line_retries_and_closes(app, desk, stranded_trade, sent):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["trades", "retry-unwind", str(stranded_trade)])
    assert result.exit_code == 0, result.output
    assert sent == [stranded_trade]
    result = runner.invoke(args=["trades", "close", str(stranded_trade), "--reason", "keep"])
    assert result.exit_code == 0, result.output
    assert "closed, profit -1000.00 USD" in result.output
    assert state(desk, stranded_trade)[:2] == ("closed", D("-1000"))
    refused = runner.invoke(args=["trades", "retry-unwind", str(stranded_trade)])
    assert refused.exit_code != 0
    assert "is closed, not stranded" in refused.output
    assert sent == [stranded_trade]
    with desk.sessions() as session:
        details = [e.detail for e in trades.events(session, stranded_trade)]
        assert any(d.startswith("unwind retried by cli:") for d in details)
