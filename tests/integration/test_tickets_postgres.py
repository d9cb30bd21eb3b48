"""Two operators confirm one ticket at the same instant on PostgreSQL: one leg is written."""

import threading
from decimal import Decimal as D

from sqlalchemy import func, select

from backend import create_app, migrate, seed
from backend.config import Settings
from backend.models import JournalEntry, OperatorTicket, Opportunity, TradeLeg
from backend.trading import tickets, trade_days, trades
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


def test_a_cancelled_ticket_unwinds_the_spot_leg_before_it_on_postgresql(make_pg_database):
    """The whole unwind on PostgreSQL (row locks, NUMERIC): leg 1 sold USDT on the Binance
    stub, the operator cancels leg 2, the executor buys the USDT back on spot."""
    from backend.market import ingest
    from backend.trading import executor, ledger
    from backend.trading.venues.live_spot import LiveSpotVenue
    from tests.binance_spot_stub import SpotStub, Symbol

    usdt_brl = Symbol(
        "USDT", "BRL", asks=[(D("5.60"), D("100000"))], bids=[(D("5.50"), D("100000"))]
    )
    usdt_brl.step = D("0.1")
    with SpotStub(balances={"USDT": D("5000")}, symbols={"USDTBRL": usdt_brl}) as stub:
        settings = Settings(
            _env_file=None, database_url=make_pg_database(), secret_key=TEST_SECRET,
            trading_mode="live", binance_trade_url=stub.url, binance_api_key=stub.api_key,
            binance_api_secret=stub.secret, live_order_timeout_seconds=0.5,
            markets="spot:USDT/BRL,p2p:USDT/BRL", stale_after_seconds=600,
        )  # fmt: skip
        migrate.upgrade(settings)
        desk = create_app(settings).extensions["desk"]
        now = desk.now()
        cycle = [
            Leg("spot:USDT/BRL", "SELL", None, "USDT", "BRL"),
            Leg("p2p:USDT/BRL", "BUY", "Pix", "BRL", "USDT"),
        ]
        with desk.sessions.begin() as session:
            seed.seed(session, settings, now)
            deposit = ledger.deposit_lines("binance:spot:USDT", D(50000))
            ledger.post(session, "deposit", deposit, actor="admin", now=now)
            spot = book("spot:USDT/BRL", asks=[ad(5.60, 100000, methods=())],
                        bids=[ad(5.50, 100000, methods=())], fetched_at=now)  # fmt: skip
            p2p = book("p2p:USDT/BRL", asks=[ad(5.30, 5000, methods=("Pix",), ad_no="PIX1")],
                       fetched_at=now)  # fmt: skip
            for b in (spot, p2p):
                ingest.store(session, desk.cache, settings, b, now)
            opp = Opportunity(
                fingerprint="u", strategy="spot_p2p", legs=[leg.to_dict() for leg in cycle],
                size_usd=D(1000), profit_usd=D(30), profit_bps=D(300),
                expires_at=now.replace(year=now.year + 1),
            )  # fmt: skip
            session.add(opp)
            session.flush()
            trade, _ = trades.request_trade(
                session, opportunity_id=opp.id, size="1000", key="u", user="ana", now=now,
                mode="live",
            )  # fmt: skip
            trade_id = trade.id

        def run():
            return executor.execute(
                desk.sessions, desk.cache, settings, trade_id, desk.now, "w1",
                spot=lambda: LiveSpotVenue(settings),
            )  # fmt: skip

        status = run()
        with desk.sessions() as session:
            assert status == tickets.AWAITING, session.get(trades.Trade, trade_id).error
        with desk.sessions.begin() as session:
            ticket_id = session.scalar(select(OperatorTicket.id))
            tickets.cancel(session, ticket_id, reason="gone", actor="ana", now=desk.now())
        assert run() == "unwound"
        with desk.sessions() as session:
            rows = session.scalars(select(TradeLeg).order_by(TradeLeg.seq)).all()
            assert [(r.seq, r.side) for r in rows] == [(1, "SELL"), (3, "BUY")]
            profit = session.get(trades.Trade, trade_id).profit_usd
            assert profit == rows[1].buy_amount - D("1000") < 0
            assert ledger.check(session) + trade_days.drift(session) == []
        assert stub.placements == {f"desk-{trade_id}-1": 1, f"desk-{trade_id}-3": 1}
