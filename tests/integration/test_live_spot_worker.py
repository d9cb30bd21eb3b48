"""A live spot order in flight when its worker is SIGKILLed: after RabbitMQ delivers the
trade again, the new worker finds the order by its client order id and never places it
a second time. Real PostgreSQL, RabbitMQ and Celery workers; Binance is the local stub."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from backend import create_app, migrate, seed
from backend.config import Settings
from backend.market import ingest
from backend.models import OperatorTicket, Trade, TradeLeg
from tasks.arbitrage import scan
from tests.binance_spot_stub import SpotStub, Symbol
from tests.conftest import ROOT, SERVICES, api_client
from tests.factories import ad, book
from tests.faults.test_dependency_faults import wait_until
from tests.integration.conftest import TEST_SECRET, service_env
from tests.livedesk import drop_vhost, fresh_vhost


def start_worker(settings: Settings, log) -> subprocess.Popen:
    env = service_env(settings) | {
        "TRADING_MODE": "live",
        "BINANCE_TRADE_URL": settings.binance_trade_url,
        "BINANCE_API_KEY": settings.binance_api_key.get_secret_value(),
        "BINANCE_API_SECRET": settings.binance_api_secret.get_secret_value(),
        "LIVE_ORDER_TIMEOUT_SECONDS": str(settings.live_order_timeout_seconds),
        "TRADE_LEASE_SECONDS": str(settings.trade_lease_seconds),
        "BINANCE_RECV_WINDOW_MS": str(settings.binance_recv_window_ms),
        # a loaded machine may take longer than the default 10 s to start the worker
        "STALE_AFTER_SECONDS": str(settings.stale_after_seconds),
        "MARKETS": ",".join(settings.markets),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "tasks.worker", "worker", "--queues",
         "trading,default", "--concurrency", "1", "--loglevel", "INFO", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


@pytest.fixture
def stub():
    spot = Symbol("USDT", "BRL", asks=[(D("5.60"), D("100000"))], bids=[(D("5.50"), D("100000"))])
    spot.step = D("0.1")
    with SpotStub(balances={"USDT": D("5000")}, symbols={"USDTBRL": spot}) as s:
        yield s


def test_a_spot_order_in_flight_when_the_worker_is_killed_is_found_not_placed_again(
    make_pg_database, stub, tmp_path
):
    vhost = fresh_vhost(SERVICES["rabbitmq"])
    settings = Settings(
        _env_file=None,
        database_url=make_pg_database(),
        rabbitmq_url=vhost,
        secret_key=TEST_SECRET,
        trading_mode="live",
        binance_trade_url=stub.url,
        binance_api_key=stub.api_key,
        binance_api_secret=stub.secret,
        live_order_timeout_seconds=4,
        trade_lease_seconds=3,
        binance_recv_window_ms=1000,  # a lease must outlast it and its second
        markets="p2p:USDT/BRL,spot:USDT/BRL",
        stale_after_seconds=600,
    )
    migrate.upgrade(settings)
    app = create_app(settings)
    desk = app.extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        seed.seed(session, settings, now, paper=True)
        # sell USDT on spot at 5.50 BRL, buy it back on P2P at 5.30 (Pix)
        spot_book = book("spot:USDT/BRL", asks=[ad(5.60, 100000, methods=())],
                         bids=[ad(5.50, 100000, methods=())], fetched_at=now)  # fmt: skip
        p2p_book = book("p2p:USDT/BRL", asks=[ad(5.30, 5000, methods=("Pix",), ad_no="PIX1")],
                        bids=[ad(5.00, 5000, methods=("Pix",))], fetched_at=now)  # fmt: skip
        for b in (spot_book, p2p_book):
            ingest.store(session, desk.cache, settings, b, now)
    with app.app_context():
        assert scan.run() >= 1
    client = api_client(app)
    opp = next(
        o
        for o in client.get("/api/v1/opportunities").json["opportunities"]
        if o["legs"][0]["market"] == "spot:USDT/BRL"
    )
    with open(tmp_path / "workers.log", "w") as logs:
        worker = start_worker(settings, logs)
        try:
            stub.fail_next(
                "stall", "/api/v3/order", method="POST", seconds=40
            )  # accepted, answered too late
            r = client.post(
                "/api/v1/trades",
                json={"opportunity_id": opp["id"], "size": "1000"},
                headers={"Idempotency-Key": "killed-in-flight"},
            )
            assert r.status_code == 201, r.json
            trade_id = r.json["id"]
            cid = f"desk-{trade_id}-1"
            wait_until(lambda: stub.placements.get(cid), 120, "the order at the stub")
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
            worker = start_worker(settings, logs)  # RabbitMQ delivers the unacked trade again

            def moved_on():
                with desk.sessions() as session:
                    status = session.scalar(select(Trade.status).where(Trade.id == trade_id))
                    return status if status not in ("requested", "queued", "executing") else None

            assert wait_until(moved_on, 90, "the trade past leg 1") == "awaiting_operator"
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
            drop_vhost(vhost)
    assert stub.placements == {cid: 1}
    assert stub.requests.count(("POST", "/api/v3/order")) == 1
    with desk.sessions() as session:
        leg = session.scalars(select(TradeLeg).where(TradeLeg.trade_id == trade_id)).one()
        # 1000 USDT sold at 5.50 = 5500 BRL, less Binance's 0.1 % commission (5.5 BRL)
        assert (leg.seq, leg.sell_amount, leg.buy_amount + leg.fee) == (1, D("1000"), D("5500"))
        ticket = session.scalars(select(OperatorTicket)).one()
        assert (ticket.seq, ticket.side, ticket.method) == (2, "BUY", "Pix")
        assert ticket.instructions[0]["ad_no"] == "PIX1"
