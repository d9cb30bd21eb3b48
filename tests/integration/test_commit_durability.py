"""Which commits wait for the disk on PostgreSQL: the claim does not (a crash that loses
it loses nothing: the task claims again), the fill and its ledger entry do, and a
relaxed transaction leaves the pooled connection as durable as before."""

from sqlalchemy import text

from backend import db
from backend.trading import executor, trades
from tests.integration.test_concurrent_balances import desk_with


def synchronous_commit(session) -> str:
    return session.scalar(text("SHOW synchronous_commit"))


def test_the_claim_commits_without_waiting_and_the_fill_waits_for_the_disk(
    make_pg_database, monkeypatch
):
    desk, ids = desk_with(make_pg_database, "3000", 100000)
    seen = {}
    real_claim, real_transition = trades.claim, trades.transition

    def claim(session, *args, **kwargs):
        claimed = real_claim(session, *args, **kwargs)
        seen["claim"] = synchronous_commit(session)  # what its commit will do
        return claimed

    def transition(session, trade_id, allowed, to, *args, **kwargs):
        moved = real_transition(session, trade_id, allowed, to, *args, **kwargs)
        seen[to] = synchronous_commit(session)
        return moved

    monkeypatch.setattr(trades, "claim", claim)
    monkeypatch.setattr(trades, "transition", transition)
    status = executor.execute(desk.sessions, desk.cache, desk.settings, ids[0], desk.now)
    assert status == "filled"
    assert seen == {"claim": "off", "executing": "off", "filled": "on"}


def test_a_relaxed_commit_ends_with_its_transaction(make_pg_database):
    desk, _ = desk_with(make_pg_database, "3000", 100000)
    engine = db.get_engine(desk.settings)
    engine.dispose()  # one pooled connection, so the next transaction reuses it
    with desk.sessions.begin() as session:
        db.commit_without_waiting(session)
        assert synchronous_commit(session) == "off"
        pid = session.scalar(text("SELECT pg_backend_pid()"))
    with desk.sessions.begin() as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) == pid
        assert synchronous_commit(session) == "on"


def test_the_queued_mark_commits_without_waiting_only_once_moved(make_pg_database):
    """The web's mark sets it in its own statement (``set_config`` on the row it holds)."""
    desk, ids = desk_with(make_pg_database, "3000", 100000)
    with desk.sessions.begin() as session:
        mark = ("requested",), "queued", desk.now(), "sent"
        assert trades.transition(session, ids[0], *mark, actor="outbox", durable=False)
        assert synchronous_commit(session) == "off"
    with desk.sessions.begin() as session:  # not requested any more: nothing moved
        assert not trades.transition(session, ids[0], *mark, actor="outbox", durable=False)
        assert synchronous_commit(session) == "on"
