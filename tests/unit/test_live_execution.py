"""A live trade leg by leg: spot on the Binance stub, P2P through an operator ticket."""

import json
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backend.market import ingest, latest
from backend.models import OperatorTicket, Trade, TradeLeg
from backend.trading import (
    controls,
    executor,
    ledger,
    liquidity,
    opportunities,
    tickets,
    trade_days,
    trades,
)
from backend.trading.live import best_price
from backend.trading.quotes import fees_from
from backend.trading.venues.live_spot import LiveSpotVenue
from tasks.arbitrage import scan
from tests.binance_spot_stub import SpotStub, Symbol
from tests.conftest import api_client, embedded_settings, prepared_app
from tests.factories import ad, book
from tests.unit.test_ticket_panel import refresh_body


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


def request(app, size="1000", key="k1", p2p=((5.30, "PIX1"), (5.00, None)), first="spot") -> int:
    """Sell USDT on spot at 5.50 BRL, buy it back on P2P at 5.30 (Pix); or the cycle that
    starts on ``first`` over the P2P (ask, bid) given as (price, ad number)."""
    desk = app.extensions["desk"]
    now = desk.now()
    (ask, ask_no), (bid, bid_no) = p2p
    with desk.sessions.begin() as session:
        spot = book("spot:USDT/BRL", asks=[ad(5.60, 100000, methods=())],
                    bids=[ad(5.50, 100000, methods=())], fetched_at=now)  # fmt: skip
        pix = ("Pix",)
        p2p = book("p2p:USDT/BRL", asks=[ad(ask, 5000, methods=pix, ad_no=ask_no)],
                   bids=[ad(bid, 5000, methods=pix, ad_no=bid_no)], fetched_at=now)  # fmt: skip
        for b in (spot, p2p):
            ingest.store(session, desk.cache, desk.settings, b, now)
    with app.app_context():
        scan.run()
    with desk.sessions.begin() as session:
        found = opportunities.list_active(session, now)
        opp = next(o for o in found if o.legs[0]["market"] == f"{first}:USDT/BRL")
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


def spot_left(app) -> tuple[D, D]:
    """What the next scan sees of the spot book: (bid quantity, ask quantity) left."""
    desk = app.extensions["desk"]
    with desk.sessions() as session:
        books = latest.get_many(session, desk.cache, ["spot:USDT/BRL"])
        left = liquidity.remaining(session, books)["spot:USDT/BRL"]
        return left.bids[0].quantity, left.asks[0].quantity


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
    assert spot_left(live) == (D("99000"), D("100000"))  # the 1000 USDT sold took bids
    assert run(live, trade_id, owner="w2") == tickets.AWAITING  # a redelivery: nothing to do
    assert stub.requests.count(("POST", "/api/v3/order")) == 1
    assert spot_left(live) == (D("99000"), D("100000"))  # taken once


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
        assert ledger.check(session) + trade_days.drift(session) == []
        assert session.scalar(select(func.count()).select_from(TradeLeg)) == 2


def test_a_commission_paid_in_bnb_is_posted_from_the_houses_bnb(live, stub):
    """Binance's fee discount: the commission comes out of the account's BNB, not the BRL
    received. The leg keeps all 5500 BRL; the ledger moves 0.0123 BNB from
    binance:spot:BNB to fees:spot:BNB (the house's BNB balance falls as Binance's does),
    and the whole cycle still checks."""
    stub.commission_asset, stub.commission = "BNB", D("0.0123")
    stub.balances["BNB"] = D("1")
    trade_id = request(live)
    assert run(live, trade_id) == tickets.AWAITING
    desk = live.extensions["desk"]
    with desk.sessions.begin() as session:
        leg = session.scalars(select(TradeLeg)).one()
        # 5500 BRL, no commission taken from it; the move to bank:Pix:BRL costs 0.05 %
        assert (leg.sell_amount, leg.buy_amount, leg.fee) == (D("1000"), D("5497.25"), D("2.75"))
        held = {"binance:spot:BNB", "fees:spot:BNB", "fees:spot:BRL"}
        assert ledger.balances(session, held) == {  # and no BRL fee posted
            "binance:spot:BNB": D("-0.0123"),  # no BNB deposited in the ledger yet
            "fees:spot:BNB": D("0.0123"),
        }
        ticket_id = session.scalar(select(OperatorTicket.id))
        tickets.confirm(
            session, ticket_id, sold="5497.25", bought="1037.21", reference="P2P-78",
            actor="ana", now=desk.now(), fees=fees_from(desk.settings),
        )  # fmt: skip
    assert run(live, trade_id) == "filled"
    assert stub.balances["BNB"] == D("0.9877")
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).profit_usd == D("37.21")
        assert ledger.check(session) + trade_days.drift(session) == []


def test_a_refused_first_leg_rejects_the_trade_with_binances_code(live, stub):
    stub.balances["USDT"] = D("10")
    trade_id = request(live)
    assert run(live, trade_id) == "rejected"
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        assert "-2010" in trade.error and not session.scalars(select(TradeLeg)).all()


def test_a_first_leg_worth_less_than_the_min_notional_is_rejected_before_it_is_sent(live, stub):
    desk = live.extensions["desk"]
    desk.settings.spot_min_notionals["USDTBRL"] = D("5500.01")  # SPOT_MIN_NOTIONALS
    trade_id = request(live)  # sells 1000 USDT: 5500 BRL at the best bid, 5.50
    stub.requests.clear()
    assert run(live, trade_id) == "rejected"
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).error == (
            "spot order of 5500 BRL is under the USDTBRL minimum of 5500.01: not sent"
        )
    assert not stub.requests
    desk.settings.spot_min_notionals["USDTBRL"] = D("5500")  # at the minimum: sent
    assert run(live, request(live, key="k2")) == tickets.AWAITING


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


def test_a_leg_sent_before_the_kill_switch_is_looked_up_not_refused_by_it(live, stub):
    """The desk was paused after the order left: the order exists at Binance, so the next
    attempt books it rather than rejecting the trade and leaving the order unbooked."""
    desk = live.extensions["desk"]
    trade_id = request(live)
    stub.fail_next("stall", "/api/v3/order", method="POST", seconds=1.5)  # placed, no answer
    busy = {"code": -1001, "msg": "Internal error; unable to process your request."}
    stub.fail_next("error", "/api/v3/order", method="GET", skip=1, status=503, body=busy)
    assert run(live, trade_id) == "executing"
    with desk.sessions.begin() as session:
        controls.pause(session, True, actor="admin", now=desk.now(), reason="incident")
    assert run(live, trade_id) == tickets.AWAITING
    assert stub.placements == {f"desk-{trade_id}-1": 1}
    with desk.sessions() as session:
        assert session.scalars(select(TradeLeg.seq).where(TradeLeg.trade_id == trade_id)).all() == [
            1
        ]


def test_a_leg_in_doubt_is_not_looked_at_again_before_its_recv_window_has_passed(
    live, stub, monkeypatch
):
    """Else "does not exist" could be told of a request still on its way, placed twice."""
    desk = live.extensions["desk"]
    monkeypatch.setattr(desk.settings, "binance_recv_window_ms", 40000)
    trade_id = request(live)
    stub.fail_next("late", "/api/v3/order", method="POST", seconds=1.0)  # not there yet
    busy = {"code": -1001, "msg": "Internal error; unable to process your request."}
    stub.fail_next("error", "/api/v3/order", method="GET", skip=1, status=503, body=busy)
    assert run(live, trade_id) == "executing"
    with desk.sessions() as session:
        assert trades.lease_left(session, trade_id, desk.now()) > 39  # 40 s + 1, not 15
    assert run(live, trade_id, owner="w2") == "executing"  # another attempt keeps off


def test_no_order_leaves_once_its_claim_could_have_passed_to_another_attempt(
    live, stub, monkeypatch
):
    """Throttled lookups and orders wait what Retry-After says, which the call's lease did
    not count: an order sent once the lease had (nearly) lapsed could meet a second worker,
    handed the trade by the sweeper, whose lookup found nothing and placed it as well;
    Binance takes a reused client order id once the first MARKET order is done."""
    from backend.trading.venues.live_spot import in_flight_seconds

    desk = live.extensions["desk"]
    for name, value in [("binance_recv_window_ms", 1000), ("trade_lease_seconds", 2.5),
                        ("live_order_timeout_seconds", 0.1)]:  # fmt: skip
        monkeypatch.setattr(desk.settings, name, value)  # a lease of 2.5 + 0.6 + 2 s
    trade_id = request(live)
    left_when_sent = []
    placing = stub._new_order

    def watched(params):
        with desk.sessions() as session:
            left_when_sent.append(trades.lease_left(session, trade_id, desk.now()))
        return placing(params)

    monkeypatch.setattr(stub, "_new_order", watched)
    for _ in range(2):  # the lookup before placing waits 2 + 2 s
        stub.fail_next("429", "/api/v3/order", method="GET", seconds=2)
    status = run(live, trade_id)
    assert [left for left in left_when_sent if left < in_flight_seconds(desk.settings)] == []
    assert status == "executing" and not stub.placements  # not sent: in doubt, looked up
    assert run(live, trade_id) == tickets.AWAITING  # the next attempt places it, once
    assert stub.placements == {f"desk-{trade_id}-1": 1}
    assert left_when_sent and left_when_sent[-1] > 5  # a fresh 5.1 s lease


def test_a_leg_that_never_left_is_not_placed_once_the_kill_switch_is_on(live, stub, monkeypatch):
    """The first attempt was throttled before its order left; the desk was paused before
    the next. The next attempt looks the order up (an earlier attempt might have placed
    it), finds none, and rejects the trade for the pause instead of placing it."""
    desk = live.extensions["desk"]
    for name, value in [("binance_recv_window_ms", 1000), ("trade_lease_seconds", 2.5),
                        ("live_order_timeout_seconds", 0.1)]:  # fmt: skip
        monkeypatch.setattr(desk.settings, name, value)
    trade_id = request(live)
    for _ in range(2):
        stub.fail_next("429", "/api/v3/order", method="GET", seconds=2)
    assert run(live, trade_id) == "executing" and not stub.placements
    with desk.sessions.begin() as session:
        controls.pause(session, True, actor="admin", now=desk.now(), reason="incident")
    stub.requests.clear()
    assert run(live, trade_id) == "rejected"
    assert not stub.placements
    assert stub.requests == [("GET", "/api/v3/order")]  # looked up, nothing placed
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).error == "kill switch is on"


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


# -- unwinding a cycle stopped halfway ------------------------------------------------


def cancel_ticket(app, reason="advertiser gone"):
    desk = app.extensions["desk"]
    with desk.sessions.begin() as session:
        ticket = session.scalars(
            select(OperatorTicket).where(OperatorTicket.status == "open")
        ).one()
        tickets.cancel(session, ticket.id, reason=reason, actor="ana", now=desk.now())
        return ticket.id


def history(app, trade_id) -> list[tuple[str, str]]:
    desk = app.extensions["desk"]
    with desk.sessions() as session:
        return [(e.to_status, e.detail) for e in trades.events(session, trade_id)]


def spot_buy_back(session) -> tuple[D, D, D]:
    """The unwind's leg 3, a spot buy of USDT with BRL: (sold, bought, fee)."""
    back = session.scalars(select(TradeLeg).where(TradeLeg.seq == 3)).one()
    assert (back.market, back.side, back.sell_currency, back.buy_currency) == (
        "spot:USDT/BRL", "BUY", "BRL", "USDT",
    )  # fmt: skip
    return back.sell_amount, back.buy_amount, back.fee


def test_a_cancelled_second_leg_unwinds_the_first_on_spot_and_the_loss_is_its_legs_flows(
    live, stub
):
    trade_id = request(live)
    assert run(live, trade_id) == tickets.AWAITING  # leg 1 sold 1000 USDT on spot
    cancel_ticket(live)
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).status == "unwinding"
        assert tickets.requeues(session, session.scalars(select(OperatorTicket)).one())
    assert "unwinding 5491.75275 BRL (bank:Pix:BRL) back to USDT" in history(live, trade_id)[-1][1]
    assert run(live, trade_id) == "unwound"
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        # the BRL come back from Pix to spot at 0.05 % (2.74587638); 5489.00 of the
        # 5489.00687362 BRL buy 980.1 USDT at 5.60 (lot 0.1), less 0.1 % commission
        assert spot_buy_back(session) == (D("5488.56"), D("979.1199"), D("0.9801"))
        assert trade.profit_usd == D("979.1199") - D("1000")  # every leg's USDT flow
        assert ledger.check(session) + trade_days.drift(session) == []
        assert ledger.balances(session, {"bank:Pix:BRL", "binance:spot:BRL"}) == {
            "bank:Pix:BRL": D("0"),
            "binance:spot:BRL": D("0.44687362"),  # less than the cent Binance spends by
        }
    assert stub.placements == {f"desk-{trade_id}-1": 1, f"desk-{trade_id}-3": 1}
    assert spot_left(live) == (D("99000"), D("99019.9"))  # the reverse leg's 980.1 USDT too
    assert [s for s, _ in history(live, trade_id)][-2:] == ["unwinding", "unwound"]


def test_an_unwind_that_cannot_be_priced_is_stranded_naming_what_it_holds_then_tried_again(
    live, stub
):
    trade_id = request(live)
    run(live, trade_id)
    cancel_ticket(live)
    desk = live.extensions["desk"]
    with desk.sessions.begin() as session:
        latest.record_error(session, "spot:USDT/BRL", "HTTP 503 from Binance")
    assert run(live, trade_id) == "stranded"
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        assert "books stale or missing: spot:USDT/BRL" in trade.error
        assert "holds 5491.75275 BRL at bank:Pix:BRL" in trade.error
        assert trade.profit_usd is None and ledger.check(session) + trade_days.drift(session) == []
        assert trades.stranded(session) == [trade_id]  # what the gauge and its alert count
    assert stub.placements == {f"desk-{trade_id}-1": 1}
    with desk.sessions.begin() as session:  # the books come back
        spot = book("spot:USDT/BRL", asks=[ad(5.60, 100000, methods=())],
                    bids=[ad(5.50, 100000, methods=())], fetched_at=desk.now())  # fmt: skip
        ingest.store(session, desk.cache, desk.settings, spot, desk.now())
    assert run(live, trade_id) == "unwound"
    assert "unwind tried again" in " ".join(d for _, d in history(live, trade_id))


def test_a_refused_unwind_order_strands_the_trade_and_places_nothing_more(live, stub):
    trade_id = request(live)
    run(live, trade_id)
    cancel_ticket(live)
    stub.balances["BRL"] = D("0")  # Binance answers -2010
    assert run(live, trade_id) == "stranded"
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        error = session.get(Trade, trade_id).error
        assert "-2010" in error and "holds 5491.75275 BRL at bank:Pix:BRL" in error
        assert ledger.check(session) + trade_days.drift(session) == []
    assert stub.placements == {f"desk-{trade_id}-1": 1}


def request_p2p_first(app) -> int:
    """Sell USDT on P2P at 5.80 BRL (Pix), buy it back on spot at 5.60."""
    return request(app, key="p1", p2p=((5.90, "PIXA"), (5.80, "PIXB")), first="p2p")


def confirm_open(app, sold, bought, reference="P2P-1"):
    desk = app.extensions["desk"]
    with desk.sessions.begin() as session:
        ticket = session.scalars(
            select(OperatorTicket).where(OperatorTicket.status == "open")
        ).one()
        tickets.confirm(
            session, ticket.id, sold=sold, bought=bought, reference=reference,
            actor="ana", now=desk.now(), fees=fees_from(desk.settings),
        )  # fmt: skip
        return ticket


def panel_text(app, language="en") -> str:
    """The open tickets panel as a viewer reading ``language`` sees it."""
    r = api_client(app, "viewer").post(
        "/_dash-update-component", json=refresh_body(), headers={"Accept-Language": language}
    )
    return json.dumps(r.json, ensure_ascii=False)


def test_a_spot_leg_refused_after_a_p2p_leg_unwinds_it_through_a_new_operator_ticket(live, stub):
    trade_id = request_p2p_first(live)
    assert run(live, trade_id) == tickets.AWAITING
    confirm_open(live, sold="1000", bought="5800")  # in binance:spot:BRL less 0.05 %
    assert run(live, trade_id) == tickets.AWAITING  # the stub holds no BRL: -2010
    events = history(live, trade_id)
    assert ("unwinding" in [s for s, _ in events]) and "-2010" in " ".join(d for _, d in events)
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        ticket = session.scalars(
            select(OperatorTicket).where(OperatorTicket.status == "open")
        ).one()
        # 5797.1 BRL held on spot come back to the Pix account at 0.05 % (2.89855, up to
        # the cent P2P pays in: 2.90)
        assert (ticket.seq, ticket.side, ticket.method) == (3, "BUY", "Pix")
        assert ticket.planned_sell == D("5794.20")
        assert ticket.instructions[0]["ad_no"] == "PIXA"
    assert "unwind leg 3 waits for operator ticket" in events[-1][1]
    listed = api_client(live, "viewer").get("/api/v1/tickets").json["tickets"]
    assert [(t["seq"], t["unwind"], t["unwind_leg"], t["unwind_legs"]) for t in listed] == [
        (3, True, 1, 1),  # the one reverse leg of the one P2P leg that filled
        (1, False, None, None),
    ]
    assert "BUY p2p:USDT/BRL · unwind leg 1 of 1" in panel_text(live)
    assert "BUY p2p:USDT/BRL · tramo de reversión 1 de 1" in panel_text(live, "es")
    confirm_open(live, sold="5794.00", bought="982.07")  # 0.20 BRL short
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).status == "unwinding"
    # what the operator did not spend goes back through one more ticket, from Pix
    assert run(live, trade_id) == tickets.AWAITING
    with desk.sessions() as session:
        ticket = session.scalars(
            select(OperatorTicket).where(OperatorTicket.status == "open")
        ).one()
        assert (ticket.seq, ticket.side, ticket.method) == (4, "BUY", "Pix")
        assert ticket.planned_sell == D("0.20")
    listed = api_client(live, "viewer").get("/api/v1/tickets").json["tickets"]
    assert [(t["seq"], t["unwind_leg"], t["unwind_legs"]) for t in listed][:2] == [
        (4, 2, 2),  # the rest of reverse leg 1, through that leg again
        (3, 1, 2),
    ]
    confirm_open(live, sold="0.20", bought="0.03")
    assert run(live, trade_id) == "unwound"
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        assert trade.profit_usd == D("982.07") + D("0.03") - D("1000")
        assert ledger.check(session) + trade_days.drift(session) == []
        assert ledger.balances(session, {"bank:Pix:BRL", "binance:spot:BRL"}) == {
            "bank:Pix:BRL": D("0"),  # nothing left unspent
            "binance:spot:BRL": D("0"),
        }
    assert stub.placements == {}  # the refused spot order placed nothing


def test_a_cancelled_unwind_ticket_strands_the_trade(live, stub):
    trade_id = request_p2p_first(live)
    run(live, trade_id)
    confirm_open(live, sold="1000", bought="5800")
    run(live, trade_id)
    cancel_ticket(live, reason="no seller on Pix")
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        assert trade.status == "stranded"
        assert "holds 5797.1 BRL (binance:spot:BRL)" in trade.error
    # tried again later: its ticket was cancelled, so it stays stranded, opening no other
    assert run(live, trade_id) == "stranded"
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OperatorTicket)) == 2


def test_what_a_partly_confirmed_leg_left_unspent_is_unwound_when_the_cycle_ends(live, stub):
    trade_id = request(live)
    run(live, trade_id)  # leg 1 sold 1000 USDT: 5491.75275 BRL at bank:Pix:BRL
    confirm_open(live, sold="3000", bought="566.03")  # the operator bought with 3000 only
    assert run(live, trade_id) == "unwound"
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        # the 2491.75275 BRL left move from Pix to spot at 0.05 % (1.24587638): 2490.50 of
        # the 2490.50687362 buy 444.7 USDT at 5.60 (lot 0.1), less 0.1 % commission
        assert spot_buy_back(session) == (D("2490.32"), D("444.2553"), D("0.4447"))
        assert trade.profit_usd == D("566.03") + D("444.2553") - D("1000") == D("10.2853")
        assert ledger.check(session) + trade_days.drift(session) == []
        assert ledger.balances(session, {"bank:Pix:BRL", "binance:spot:BRL"}) == {
            "bank:Pix:BRL": D("0"),
            "binance:spot:BRL": D("0.18687362"),  # under a lot's price: Binance took none
        }
    assert stub.placements == {f"desk-{trade_id}-1": 1, f"desk-{trade_id}-3": 1}
    events = history(live, trade_id)
    assert [s for s, _ in events][-3:] == ["executing", "unwinding", "unwound"]
    assert "unwinding 2491.75275 BRL (bank:Pix:BRL) back to USDT" in events[-2][1]
    assert events[-1][1] == (
        "unwound back to USDT, profit 10.29 USD; dust 0.18687362 BRL left at binance:spot:BRL"
    )


def test_a_cycle_that_left_only_dust_unspent_is_filled_and_says_so(live, stub):
    trade_id = request(live)
    run(live, trade_id)
    confirm_open(live, sold="5491.75", bought="1036.17")  # 0.00275 BRL left: under a cent
    assert run(live, trade_id) == "filled"
    assert history(live, trade_id)[-1][1] == (
        "live fill, profit 36.17 USD; dust 0.00275 BRL left at bank:Pix:BRL"
    )
    assert stub.placements == {f"desk-{trade_id}-1": 1}


def test_a_rest_that_buys_less_than_one_lot_back_is_dust_not_a_stranded_trade(live, stub):
    trade_id = request(live)
    run(live, trade_id)
    confirm_open(live, sold="5491.30", bought="1036.09")  # 0.45275 BRL left at Pix
    # buying back needs one lot of 0.1 USDT: 0.55 BRL at leg 1's 5.50 (Binance fills none)
    assert run(live, trade_id) == "filled"
    assert history(live, trade_id)[-1][1] == (
        "live fill, profit 36.09 USD; dust 0.45275 BRL left at bank:Pix:BRL"
    )
    assert stub.placements == {f"desk-{trade_id}-1": 1}
    desk = live.extensions["desk"]
    with desk.sessions() as session:
        assert ledger.check(session) + trade_days.drift(session) == []
        assert ledger.balances(session, {"bank:Pix:BRL"}) == {"bank:Pix:BRL": D("0.45275")}


def test_a_spot_order_is_priced_at_the_best_level_a_taker_gets():
    """A buy takes the lowest ask, a sell the highest bid; no level, no price."""
    spot = book(
        "spot:BTC/USDT",
        asks=[ad(60010, 1, methods=()), ad(60000, 1, methods=())],
        bids=[ad(59980, 1, methods=()), ad(59990, 1, methods=())],
    )
    assert best_price(spot, "BUY") == D(60000)
    assert best_price(spot, "SELL") == D(59990)
    assert best_price(book("spot:BTC/USDT"), "BUY") is None
    assert best_price(None, "SELL") is None


def test_the_lease_covers_a_spot_call_with_every_retry_and_its_recv_window(live, stub):
    """15 s lease + 0.5 s timeout x (a lookup, the order, two lookups, 3 attempts) + the
    6 s a request may still be accepted: 24 s, so no takeover while the call can run."""
    from backend.trading.venues import LegRefused

    desk = live.extensions["desk"]
    trade_id, seen = request(live), []

    class Watching:
        def fill(self, order):
            with desk.sessions() as session:
                seen.append(trades.lease_left(session, trade_id, desk.now()))
            raise LegRefused("watched")

    assert executor.execute(
        desk.sessions, desk.cache, desk.settings, trade_id, desk.now, "w1", spot=Watching
    ) == "rejected"  # fmt: skip
    assert len(seen) == 1 and 23 < seen[0] <= 24
