"""A stretch of simulated trading through the same scan, requests and paper executor the
desk runs: every trade's profit, legs and postings agree, and no account goes below zero."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.market import ingest
from backend.market.book import Market
from backend.market.simulator import Simulator
from backend.models import Trade
from backend.trading import accounts, executor, ledger, opportunities, trade_days, trades
from tasks.arbitrage import scan


def test_a_simulated_session_keeps_the_ledger_sound(app, desk):
    start = datetime(2026, 11, 28, 9, tzinfo=UTC)
    for i in range(40):
        sim = Simulator(seed=11, clock=lambda i=i: start + timedelta(seconds=31 * i))
        now = desk.now()
        with desk.sessions.begin() as session:
            for key in desk.settings.markets:
                fetched = replace(sim.fetch(Market.parse(key)), fetched_at=now)
                ingest.store(session, desk.cache, desk.settings, fetched, now)
        with app.app_context():
            scan.run()
        with desk.sessions.begin() as session:
            listed = opportunities.list_active(session, now)[:2]
            ids = [
                trades.request_trade(
                    session, opportunity_id=o.id, size=None, key=f"day-{i}-{o.id}", user="t",
                    now=now,
                )[0].id
                for o in listed
            ]  # fmt: skip
        for trade_id in ids:
            executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now)
    with desk.sessions() as session:
        statuses = [t.status for t in session.scalars(select(Trade))]
        assert statuses.count("filled") >= 5, statuses
        assert set(statuses) <= {"filled", "rejected"}
        assert ledger.check(session) + trade_days.drift(session) == []
        held = ledger.balances(session)
    assert all(v >= 0 for k, v in held.items() if accounts.kind_of(k) == "house"), held
