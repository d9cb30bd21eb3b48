"""A live trade leg by leg: spot on the Binance stub, P2P through an operator ticket."""

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backend.market import ingest
from backend.models import OperatorTicket, Trade, TradeLeg
from backend.trading import controls, executor, ledger, opportunities, tickets, trades
from backend.trading.quotes import fees_from
from backend.trading.venues.live_spot import LiveSpotVenue
from tasks.arbitrage import scan
from tests.binance_spot_stub import SpotStub, Symbol
from tests.conftest import embedded_settings, prepared_app
from tests.factories import ad, book


@pytest.fixture
def stub():
    usdt_brl = Symbol(
        "USDT", "BRL", asks=[(D("5.60"), D("100000"))], bids=[(D("5.50"), D("100000"))]
    )
    usdt_brl.step = D("0.1")
    with SpotStub(balances={"USDT": D("5000")}, symbols={"USDTBRL": usdt_brl}) as s:
        yield s


@pytest.fixture
def live(tmp_path, stub):
    settings = embedded_settings(
        tmp_path,
        trading_mode="live",
        binance_trade_url=stub.url,
        binance_api_key=stub.api_key,
        binance_api_secret=stub.secret,
        live_order_timeout_seconds=0.5,
        markets="spot:USDT/BRL,p2p:USDT/BRL",
        spot_taker_fee="0.001",
        p2p_taker_fee="0",
        transfer_fee="0.0005",
        paper_slippage="0",
    )
    return prepared_app(settings)


def request(app, size="1000", key="k1") -> int:
    """Sell USDT on spot at 5.50 BRL, buy it back on P2P at 5.30 (Pix)."""
    desk = app.extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        spot = book("spot:USDT/BRL", asks=[ad(5.60, 100000, methods=())],
                    bids=[ad(5.50, 100000, methods=())], fetched_at=now)  # fmt: skip
        p2p = book("p2p:USDT/BRL", asks=[ad(5.30, 5000, methods=("Pix",), ad_no="PIX1")],
                   bids=[ad(5.00, 5000, methods=("Pix",))], fetched_at=now)  # fmt: skip
        for b in (spot, p2p):
            ingest.store(session, desk.cache, desk.settings, b, now)
    with app.app_context():
        scan.run()
    with desk.sessions.begin() as session:
        found = opportunities.list_active(session, now)
        opp = next(o for o in found if o.legs[0]["market"] == "spot:USDT/BRL")
        trade, _ = trades.request_trade(
            session, opportunity_id=opp.id, size=size, key=key, user="ana", now=now, mode="live"
        )
        return trade.id


def run(app, trade_id, owner="w1") -> str:
    desk = app.extensions["desk"]
    return executor.execute(
        desk.sessions, desk.cache, desk.settings, trade_id, desk.now, owner,
        spot=lambda: LiveSpotVenue(desk.settings),
    )  # fmt: skip


def test_a_spot_leg_fills_at_binance_and_the_p2p_leg_waits_for_its_operator(live, stub):
    trade_id = request(live)
    assert run(live, trade_id) == tickets.AWAITING
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        leg = session.scalars(select(TradeLeg)).one()
        # 1000 USDT sold at 5.50: 5500 BRL less Binance's 5.5 commission lands in
        # binance:spot:BRL; moving it to bank:Pix:BRL (leg 2 pays from there) costs 0.05 %
        assert (leg.sell_amount, leg.buy_amount, leg.fee) == (
            D("1000"), D("5491.75275"), D("8.24725"),
        )  # fmt: skip
        ticket = session.scalars(select(OperatorTicket)).one()
        assert (ticket.seq, ticket.planned_sell, ticket.method) == (2, D("5491.75275"), "Pix")
        assert ticket.instructions[0]["ad_no"] == "PIX1"
        assert session.get(Trade, trade_id).mode == "live"
        held = {"binance:spot:USDT", "bank:Pix:BRL", "fees:spot:BRL"}
        assert ledger.balances(session, held) == {
            "binance:spot:USDT": D("49000"),
            "bank:Pix:BRL": D("5491.75275"),
            "fees:spot:BRL": D("5.5"),
        }
    assert stub.placements == {f"desk-{trade_id}-1": 1}
    assert run(live, trade_id, owner="w2") == tickets.AWAITING  # a redelivery: nothing to do
    assert stub.requests.count(("POST", "/api/v3/order")) == 1


def test_the_confirmed_ticket_finishes_the_cycle_and_the_ledger_agrees(live, stub):
    trade_id = request(live)
    run(live, trade_id)
    desk = live.extensions["desk"]
    with desk.sessions.begin() as session:
        ticket_id = session.scalar(select(OperatorTicket.id))
        tickets.confirm(
            session, ticket_id, sold="5491.75", bought="1036.17", reference="P2P-77",
            actor="ana", now=desk.now(), fees=fees_from(desk.settings),
        )  # fmt: skip
    assert run(live, trade_id) == "filled"
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        assert trade.profit_usd == D("36.17")  # 1036.17 back for 1000 out
        assert ledger.check(session) == []
        assert session.scalar(select(func.count()).select_from(TradeLeg)) == 2


def test_a_refused_first_leg_rejects_the_trade_with_binances_code(live, stub):
    stub.balances["USDT"] = D("10")
    trade_id = request(live)
    assert run(live, trade_id) == "rejected"
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        assert "-2010" in trade.error and not session.scalars(select(TradeLeg)).all()


def test_an_order_in_doubt_keeps_the_trade_executing_until_the_order_is_found(live, stub):
    trade_id = request(live)
    stub.fail_next("stall", "/api/v3/order", method="POST", seconds=1.5)  # placed, no answer
    busy = {"code": -1001, "msg": "Internal error; unable to process your request."}
    stub.fail_next("error", "/api/v3/order", method="GET", skip=1, status=503, body=busy)
    stub.requests.clear()
    assert run(live, trade_id) == "executing"  # no answer, and the lookup after it failed
    assert stub.placements == {f"desk-{trade_id}-1": 1}
    assert run(live, trade_id) == tickets.AWAITING  # the same attempt again finds it
    assert stub.placements == {f"desk-{trade_id}-1": 1}
    assert stub.requests.count(("POST", "/api/v3/order")) == 1


def test_no_cycle_starts_without_room_for_its_ticket(live, stub):
    desk = live.extensions["desk"]
    with desk.sessions.begin() as session:
        controls.change(session, "max_open_tickets", "0", actor="admin", now=desk.now(),
                        reason="no operator today")  # fmt: skip
    trade_id = request(live)
    assert run(live, trade_id) == "rejected"
    with desk.sessions() as session:
        assert "max open operator tickets (0) reached" in session.get(Trade, trade_id).error
    assert not stub.placements


def test_a_sent_leg_whose_next_lookup_is_refused_stays_executing_not_failed(live, stub):
    trade_id = request(live)
    stub.fail_next("stall", "/api/v3/order", method="POST", seconds=1.5)  # placed, no answer
    busy = {"code": -1001, "msg": "Internal error; unable to process your request."}
    stub.fail_next("error", "/api/v3/order", method="GET", skip=1, status=503, body=busy)
    assert run(live, trade_id) == "executing"
    clock = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    stub.fail_next("error", "/api/v3/order", method="GET", status=400, body=clock)
    assert run(live, trade_id) == "executing"  # a 4xx on the lookup says nothing of the order
    assert run(live, trade_id) == tickets.AWAITING
    assert stub.placements == {f"desk-{trade_id}-1": 1}
