"""Twenty executions at once on PostgreSQL: against a funding wallet that pays for three,
the account lock lets three fill and refuses the rest for balance, never overdrawing;
against books that hold three, the book lock lets three take liquidity, not twenty. And
one Idempotency-Key sent twice at once stores one trade."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend import create_app, migrate, seed
from backend.config import Settings
from backend.market import ingest
from backend.models import LiquidityTake, Opportunity, Trade
from backend.trading import balances, executor, ledger, trade_days, trades
from tasks.arbitrage import scan
from tests.factories import ad, book

D = Decimal


def desk_with(make_pg_database, usdt: str, spot_asks: int):
    """A desk on a fresh database holding ``usdt`` in the funding wallet, whose only
    opportunity sells USDT on P2P for BRL and buys it back on spot (1000 USD each)."""
    settings = Settings(
        _env_file=None,
        database_url=make_pg_database(),
        secret_key="concurrency-tests-only",
        redis_url=None,
        rabbitmq_url=None,
        db_pool_size=25,
        db_lock_timeout_seconds=20,
        db_statement_timeout_seconds=30,
    )
    migrate.upgrade(settings)
    app = create_app(settings)
    desk = app.extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        seed.seed(session, settings, now)
        balances.move(session, "deposit", "binance:USDT", usdt, actor="t", reason="r", now=now)
        for b in (
            book("p2p:USDT/BRL", fetched_at=now, bids=[ad(5.55, 100000, methods=("PIX",))]),
            book("spot:USDT/BRL", fetched_at=now, asks=[ad(5.45, spot_asks, methods=())]),
        ):
            ingest.store(session, desk.cache, settings, b, now)
    with app.app_context():
        assert scan.run() == 1
    with desk.sessions.begin() as session:
        opp = session.scalars(select(Opportunity)).one()
        assert opp.strategy == "spot_p2p"
        ids = [
            trades.request_trade(
                session, opportunity_id=opp.id, size="1000", key=f"c{i}", user="t", now=now
            )[0].id
            for i in range(20)
        ]
    return desk, ids


def run_all(desk, ids) -> list[str]:
    def run(i: int) -> str:
        return executor.execute(
            desk.sessions, desk.cache, desk.settings, ids[i], desk.now, owner=f"thread-{i}"
        )

    with ThreadPoolExecutor(len(ids)) as pool:
        return list(pool.map(run, range(len(ids))))


def test_twenty_concurrent_trades_against_balances_for_three(make_pg_database):
    desk, ids = desk_with(make_pg_database, "3000", 100000)
    statuses = run_all(desk, ids)
    assert statuses.count("filled") == 3
    assert statuses.count("rejected") == 17
    with desk.sessions() as session:
        errors = [t.error for t in session.scalars(select(Trade)) if t.status == "rejected"]
        assert all(e.startswith("insufficient balance: binance:USDT holds ") for e in errors)
        held = ledger.balances(session, {"binance:USDT", "binance:spot:USDT"})
        # each fill: 5550 x 0.9995 = 5547.22 BRL, transfer to the spot wallet 2.78,
        # 5544.44 / 5.45 -> 1017.32 x 0.9995 -> 1016.81, spot fee 1.02 -> 1015.79 USDT
        assert held == {"binance:USDT": D(0), "binance:spot:USDT": 3 * D("1015.79")}
        assert ledger.check(session) + trade_days.drift(session) == []


def test_twenty_concurrent_trades_of_one_opportunity_take_only_what_the_books_hold(
    make_pg_database,
):
    """3100 USDT of spot asks: three cycles take 3 x 1017.32 = 3051.96, none can take more."""
    desk, ids = desk_with(make_pg_database, "50000", 3100)
    statuses = run_all(desk, ids)
    assert statuses.count("filled") == 3
    with desk.sessions() as session:
        errors = {t.error for t in session.scalars(select(Trade)) if t.status == "rejected"}
        taken = session.scalars(
            select(LiquidityTake.quantity).where(LiquidityTake.market == "spot:USDT/BRL")
        ).all()
    assert errors == {"books cannot fill this size any more"}
    assert sum(taken) == D("3051.96")


def test_one_key_sent_twice_at_once_stores_one_trade(make_pg_database):
    """The second request waits on the first's uncommitted row, then answers with it."""
    desk, _ = desk_with(make_pg_database, "3000", 100000)
    with desk.sessions() as session:
        opp_id = session.scalars(select(Opportunity.id)).one()

    def request(key: str, hold: threading.Event | None = None):
        with desk.sessions.begin() as session:
            trade, created = trades.request_trade(
                session, opportunity_id=opp_id, size="1000", key=key, user="t", now=desk.now()
            )
            if hold is not None:
                hold.wait(10)
            return trade.id, created

    stored = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(request, "twice", stored)
        time.sleep(0.5)  # the first holds its row uncommitted
        second = pool.submit(request, "twice")
        time.sleep(0.5)
        assert not second.done()  # waiting on the first's row
        stored.set()
        (first_id, first_new), (second_id, second_new) = first.result(), second.result()
    assert (first_new, second_new) == (True, False)
    assert first_id == second_id
    with desk.sessions() as session:
        assert session.scalars(select(Trade.id).where(Trade.idempotency_key == "twice")).all() == [
            first_id
        ]


def test_a_claim_waiting_on_the_queued_mark_leaves_queued_once(make_pg_database):
    """Two workers claim while the web's `queued` mark is uncommitted: both wait on the
    row; once the mark commits, one claims it out of `queued` (as the audit says), the
    other claims nothing."""
    desk, ids = desk_with(make_pg_database, "3000", 100000)
    trade_id, marked = ids[0], threading.Event()

    def mark():
        with desk.sessions.begin() as session:
            moved = trades.transition(
                session, trade_id, ("requested",), "queued", desk.now(), actor="outbox"
            )
            marked.wait(10)
            return moved

    def claim(owner: str):
        with desk.sessions.begin() as session:
            return trades.claim(session, trade_id, owner, desk.now(), 30)

    with ThreadPoolExecutor(3) as pool:
        web = pool.submit(mark)
        time.sleep(0.5)  # the mark holds the row uncommitted
        workers = [pool.submit(claim, f"worker-{n}") for n in range(2)]
        time.sleep(0.5)
        assert not any(w.done() for w in workers)  # waiting on the mark's row
        marked.set()
        assert web.result() is True
        claimed = sorted(w.result() or "" for w in workers)
    assert claimed == ["", "executing"]
    with desk.sessions() as session:
        moves = [(e.from_status, e.to_status) for e in trades.events(session, trade_id)]
    assert moves == [(None, "requested"), ("requested", "queued"), ("queued", "executing")]


def test_two_withdrawals_at_once_never_take_more_than_the_account_holds(make_pg_database):
    """60 of the 100 USDT held, twice at once: the second waits on the account's lock
    while the first is uncommitted, then reads the 40 left and is refused."""
    desk, _ = desk_with(make_pg_database, "100", 100000)

    def withdraw(hold: threading.Event | None = None):
        with desk.sessions.begin() as session:
            entry = balances.move(session, "withdraw", "binance:USDT", "60", actor="t",
                                  reason="r", now=desk.now())  # fmt: skip
            if hold is not None:
                hold.wait(10)
            return entry.id

    posted = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(withdraw, posted)
        time.sleep(0.5)  # the first holds the account, its withdrawal uncommitted
        second = pool.submit(withdraw)
        time.sleep(0.5)
        assert not second.done()  # waiting on the account's lock
        posted.set()
        first.result()
        with pytest.raises(balances.Refused, match=r"^binance:USDT holds 40; cannot take out 60$"):
            second.result()
    with desk.sessions() as session:
        assert ledger.balances(session, {"binance:USDT"}) == {"binance:USDT": D(40)}
