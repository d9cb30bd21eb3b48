"""A worker that dies mid-trade: its lease lapses and the redelivered message runs the
trade once (the fill is one transaction, so the dead attempt filled nothing)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.models import Posting, Trade, TradeLeg
from backend.trading import executor, trades
from tests.conftest import embedded_settings


@pytest.fixture
def settings(tmp_path):
    """A lease shorter than the books' freshness, so the takeover still trades on them."""
    return embedded_settings(tmp_path, trade_lease_seconds=4)


def request(client, opportunity, key="lease-1"):
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": "1000"},
        headers={"Idempotency-Key": key},
    )
    assert r.status_code == 201
    return r.json["id"]


def test_a_redelivery_takes_over_once_the_dead_workers_lease_lapses(client, desk, opportunity):
    trade_id = request(client, opportunity)
    start = desk.now()
    lease = desk.settings.trade_lease_seconds
    with desk.sessions.begin() as session:  # worker A claims the trade, then is SIGKILLed
        assert trades.claim(session, trade_id, "host:1:task-a", start, lease)
    with desk.sessions() as session:
        row = session.get(Trade, trade_id)
        assert (row.status, row.claimed_by) == ("executing", "host:1:task-a")
        assert row.lease_until == start + timedelta(seconds=lease)

    def run(owner, at):
        return executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, lambda: at,
                                owner)  # fmt: skip

    # redelivered while A's lease still holds: left alone, to be looked at again
    assert run("host:2:task-a", start + timedelta(seconds=lease - 1)) == "executing"
    # the lease has lapsed: taken over and filled, once
    assert run("host:2:task-a", start + timedelta(seconds=lease)) == "filled"
    assert run("host:3:task-a", start + timedelta(seconds=lease + 60)) == "filled"
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).where(TradeLeg.trade_id == trade_id)) == 2
        assert session.scalar(select(func.count()).where(Posting.trade_id == trade_id)) > 0
        assert session.get(Trade, trade_id).lease_until is None
        details = [e.detail for e in trades.events(session, trade_id)]
    assert "taken over by host:2:task-a: the lease of host:1:task-a lapsed" in details


def test_a_claim_left_without_a_lease_is_taken_over_at_once(client, desk, opportunity):
    """What an older worker (or a crash between two statements) leaves: executing, no lease."""
    trade_id = request(client, opportunity)
    with desk.sessions.begin() as session:
        session.get(Trade, trade_id).status = "executing"
    assert executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now) == (
        "filled"
    )


def test_the_attempt_that_lost_its_claim_commits_nothing(client, desk, opportunity):
    """A slow worker whose lease lapsed and whose trade was taken over: its fill must not
    commit legs, postings or a status, however far it got."""
    trade_id = request(client, opportunity)
    now = desk.now()
    with desk.sessions.begin() as session:
        assert trades.claim(session, trade_id, "slow", now, 1)
    later = now + timedelta(seconds=2)
    with desk.sessions.begin() as session:
        assert trades.claim(session, trade_id, "fresh", later, 60)
    try:
        with desk.sessions.begin() as session:
            executor._fill(session, desk.settings, trade_id, lambda: later, "slow")
    except executor.LostClaim:
        pass
    else:
        raise AssertionError("the slow attempt went on")
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).where(TradeLeg.trade_id == trade_id)) == 0
        assert session.scalar(select(func.count()).where(Posting.trade_id == trade_id)) == 0
        assert session.get(Trade, trade_id).status == "executing"


def test_the_final_status_change_failing_rolls_the_fill_back(
    client, desk, opportunity, monkeypatch
):
    """The sweeper failed the trade meanwhile: no legs, postings, profit or metric."""
    from backend.ops import metrics

    trade_id = request(client, opportunity)
    real = trades.transition

    def sweeper_won(session, tid, allowed, to, *args, **kwargs):
        if to == "filled":
            return False
        return real(session, tid, allowed, to, *args, **kwargs)

    monkeypatch.setattr(trades, "transition", sweeper_won)
    filled = metrics.TRADES_EXECUTED.labels(strategy="crossed_book", mode="paper", status="filled")
    before = filled._value.get()
    status = executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now)
    assert status == "executing"
    assert filled._value.get() == before
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).where(TradeLeg.trade_id == trade_id)) == 0
        assert session.scalar(select(func.count()).where(Posting.trade_id == trade_id)) == 0
        assert session.get(Trade, trade_id).profit_usd is None


def test_a_database_error_mid_fill_leaves_the_trade_to_the_tasks_retry(
    client, desk, opportunity, monkeypatch
):
    """A lock timeout or a dropped connection is the database's fault, not the trade's:
    nothing was committed, the trade stays claimed, and the task's retry fills it."""
    from sqlalchemy.exc import OperationalError

    from backend.trading import ledger

    trade_id = request(client, opportunity)
    real, calls = ledger.post, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT INTO postings", {}, Exception("lock timeout"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ledger, "post", flaky)

    def run():
        return executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now,
                                "host:1:task-x")  # fmt: skip

    with pytest.raises(OperationalError):
        run()
    with desk.sessions() as session:
        row = session.get(Trade, trade_id)
        assert (row.status, row.claimed_by, row.error) == ("executing", "host:1:task-x", None)
        assert session.scalar(select(func.count()).where(TradeLeg.trade_id == trade_id)) == 0
    assert run() == "filled"


def test_the_sweeper_sends_again_a_trade_whose_lease_lapsed_unclaimed(
    app, client, desk, opportunity, monkeypatch
):
    """The message died with the broker (or its retry could not be published): after the
    lease and a grace of 5 s the sweeper queues the trade again, long before 5 minutes."""
    from backend.trading import outbox
    from tasks.trading import sweep

    lapsed, live = request(client, opportunity, "lapsed"), request(client, opportunity, "live")
    now = desk.now()
    with desk.sessions.begin() as session:
        assert trades.claim(session, lapsed, "gone", now - timedelta(seconds=10), 4)  # 6 s ago
        assert trades.claim(session, live, "busy", now, 4)
    sent = []
    monkeypatch.setattr(outbox, "send", lambda celery, trade_id: sent.append(trade_id) or True)
    with app.app_context():
        sweep.run()
    assert sent == [lapsed]
    assert executor.execute(desk.sessions, desk.cache, desk.settings, lapsed, desk.now) == "filled"


def test_the_sweeper_never_fails_blind_a_trade_with_an_order_sent(
    app, client, desk, opportunity, monkeypatch
):
    """Five minutes without news: a trade that sent nothing is failed (nothing is lost); one
    whose leg went to Binance may have an order there, so it is sent again to be looked up."""
    from backend.trading import outbox
    from tasks.trading import sweep

    quiet, sent_leg = request(client, opportunity, "quiet"), request(client, opportunity, "sent")
    long_ago = desk.now() - timedelta(minutes=6)
    with desk.sessions.begin() as session:
        assert trades.claim(session, quiet, "gone", long_ago, 4)
        assert trades.claim(session, sent_leg, "gone", long_ago, 4)
        session.get(Trade, sent_leg).legs_sent = 1
    sent = []
    monkeypatch.setattr(outbox, "send", lambda celery, trade_id: sent.append(trade_id) or True)
    with app.app_context():
        sweep.run()
    with desk.sessions() as session:
        assert session.get(Trade, quiet).status == "failed"
        assert session.get(Trade, sent_leg).status == "executing"
    assert sent == [sent_leg]


def test_the_sweeper_sends_again_a_queued_trade_no_worker_took(
    app, client, desk, opportunity, monkeypatch
):
    """Its message is gone (the broker lost it, or the task spent its retries on a long
    database outage): nothing else would ever run it, and it sat queued for good."""
    from backend.trading import outbox
    from tasks.trading import sweep

    forgotten, fresh = (
        request(client, opportunity, "forgotten"),
        request(client, opportunity, "new"),
    )
    with desk.sessions.begin() as session:
        assert {session.get(Trade, t).status for t in (forgotten, fresh)} == {"queued"}
        session.get(Trade, forgotten).updated_at = desk.now() - timedelta(minutes=2)
    sent = []
    monkeypatch.setattr(outbox, "send", lambda celery, trade_id: sent.append(trade_id) or True)
    with app.app_context():
        sweep.run()
        sweep.run()  # stamped when sent: not sent again at every pass
    assert sent == [forgotten]
    with desk.sessions() as session:
        assert "no worker took it" in trades.events(session, forgotten)[-1].detail
    assert (
        executor.execute(desk.sessions, desk.cache, desk.settings, forgotten, desk.now) == "filled"
    )


def test_an_attempt_that_lost_its_claim_cannot_move_the_trade(client, desk, opportunity):
    """The slow attempt gives up after the takeover: failing the trade is the fresh
    claimant's to do now, so the trade stays executing, the audit untouched."""
    trade_id = request(client, opportunity)
    now = desk.now()
    with desk.sessions.begin() as session:
        assert trades.claim(session, trade_id, "slow", now, 1)
    later = now + timedelta(seconds=2)
    with desk.sessions.begin() as session:
        assert trades.claim(session, trade_id, "fresh", later, 60)
    with desk.sessions.begin() as session:
        assert not trades.transition(
            session, trade_id, ("executing",), "failed", later, "executor error: slow",
            actor="worker", owner="slow", error="slow",
        )  # fmt: skip
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).status == "executing"
        assert trades.events(session, trade_id)[-1].to_status == "executing"
