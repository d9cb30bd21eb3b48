"""Two operators confirm one ticket at the same instant on PostgreSQL: one leg is written."""

import threading
from decimal import Decimal as D

from sqlalchemy import func, select

from backend import create_app, migrate, seed
from backend.config import Settings
from backend.models import JournalEntry, OperatorTicket, Opportunity, TradeLeg
from backend.trading import tickets, trades
from backend.trading.execution import Fees, Leg
from backend.trading.venues import LegOrder
from tests.factories import ad, book
from tests.integration.conftest import TEST_SECRET

SELL_USDT = Leg("p2p:USDT/VES", "SELL", "Mercantil", "USDT", "VES")


def test_a_ticket_confirmed_twice_at_once_writes_one_leg(make_pg_database):
    settings = Settings(_env_file=None, database_url=make_pg_database(), secret_key=TEST_SECRET)
    migrate.upgrade(settings)
    desk = create_app(settings).extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        seed.seed(session, settings, now)
        opp = Opportunity(
            fingerprint="f",
            strategy="crossed_book",
            legs=[SELL_USDT.to_dict()],
            size_usd=D(500),
            profit_usd=D(1),
            profit_bps=D(20),
            expires_at=now.replace(year=now.year + 1),
        )
        session.add(opp)
        session.flush()
        trade, _ = trades.request_trade(
            session, opportunity_id=opp.id, size="500", key="race", user="ana", now=now
        )
        trades.transition(session, trade.id, ("requested",), "executing", now, actor="worker")
        trades.transition(session, trade.id, ("executing",), tickets.AWAITING, now, actor="worker")
        bids = [ad(330, 5000, methods=("Mercantil",))]
        waiting = tickets.open_ticket(
            session,
            LegOrder(trade.id, 1, SELL_USDT, D(500)),
            book("p2p:USDT/VES", bids=bids),
            Fees(),
            now,
        )
    start, outcomes = threading.Barrier(8), []

    def confirm(n):
        start.wait()
        try:
            with desk.sessions.begin() as session:
                tickets.confirm(
                    session,
                    waiting.ticket_id,
                    sold="500",
                    bought=str(165000 - n),
                    reference=f"op-{n}",
                    fees=Fees(),
                    actor=f"op{n}",
                    now=now,
                )
            outcomes.append("confirmed")
        except tickets.TicketError as exc:
            outcomes.append(exc.status)

    threads = [threading.Thread(target=confirm, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes, key=str) == [409] * 7 + ["confirmed"]
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(TradeLeg)) == 1
        fills = select(func.count()).where(JournalEntry.kind == "fill")
        assert session.scalar(fills) == 1  # one ledger posting
        winner = session.scalars(select(TradeLeg)).one()
        ticket = session.get(OperatorTicket, waiting.ticket_id)
        assert (
            ticket.buy_amount == winner.buy_amount
            and ticket.reference == f"op-{165000 - int(winner.buy_amount)}"
        )
