"""Operator tickets: what the operator is told to do, and a leg settled exactly once."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backend.market import ingest, latest
from backend.market.book import Advertiser
from backend.models import LiquidityTake, OperatorTicket, Trade, TradeLeg
from backend.trading import ledger, legs, liquidity, opportunities, tickets, trade_days, trades
from backend.trading.execution import Fees, Leg, LegFill
from backend.trading.venues import LegOrder, LegRefused
from tests.conftest import api_client
from tests.factories import ad, book

SELL_USDT = Leg("p2p:USDT/VES", "SELL", "Mercantil", "USDT", "VES")
VES = "p2p:USDT/VES"
BUY_USDT = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")
FEES = Fees(p2p_taker=D("0.001"))
MOVING = Fees(p2p_taker=D("0.001"), transfer=D("0.0005"))  # Mercantil -> Banesco costs 0.05 %


def ves_book():
    rich = Advertiser(nick="CambiosRich", user_type="merchant", month_orders=900)
    bids = [
        ad(331, 200, min_amount=1000, max_amount=66200, methods=("Mercantil",), ad_no="B1"),
        ad(330, 5000, methods=("Mercantil",), ad_no="B2"),
    ]
    asks = [ad(320, 5000, max_amount=2_000_000, methods=("Banesco",), ad_no="A1")]
    return book("p2p:USDT/VES", asks=asks, bids=[replace(b, advertiser=rich) for b in bids])


@pytest.fixture
def awaiting_trade(desk, opportunity):
    """A live trade waiting for its first leg's operator."""
    now = desk.now()
    with desk.sessions.begin() as session:
        trade, _ = trades.request_trade(
            session, opportunity_id=opportunity.id, size="1000", key="k1", user="ana", now=now
        )
        for to in ("executing", tickets.AWAITING):
            assert trades.transition(
                session, trade.id, (trade.status, "requested", "executing"), to, now, actor="worker"
            )
        return trade.id


def open_sell(desk, trade_id, amount="500", max_open=None, priced_on=None):
    with desk.sessions.begin() as session:
        return tickets.open_ticket(
            session,
            LegOrder(trade_id, 1, SELL_USDT, D(amount)),
            priced_on or ves_book(),
            FEES,
            desk.now(),
            max_open,
        )


def test_a_sell_ticket_names_each_ad_its_advertiser_price_limits_and_what_to_release(
    desk, awaiting_trade
):
    waiting = open_sell(desk, awaiting_trade)
    with desk.sessions() as session:
        t = session.get(OperatorTicket, waiting.ticket_id)
        assert (t.status, t.planned_sell, t.sell_currency, t.buy_currency) == (
            "open",
            D("500"),
            "USDT",
            "VES",
        )
        # 200 USDT at 331 (its max 66,200 VES), 300 at 330; 0.1 % taker fee on the VES
        assert t.planned_buy == (D("66200") + D("99000")) * D("0.999")
        assert t.instructions == [
            {
                "ad_no": "B1",
                "advertiser": "CambiosRich",
                "advertiser_type": "merchant",
                "price": "331",
                "method": "Mercantil",
                "min_amount": "1000",
                "max_amount": "66200",
                "release": "200",
                "receive": "66200",
            },
            {
                "ad_no": "B2",
                "advertiser": "CambiosRich",
                "advertiser_type": "merchant",
                "price": "330",
                "method": "Mercantil",
                "min_amount": "0",
                "max_amount": None,
                "release": "300",
                "receive": "99000",
            },
        ]


def test_a_buy_ticket_says_how_much_fiat_to_pay(desk, awaiting_trade):
    with desk.sessions.begin() as session:
        waiting = tickets.open_ticket(
            session,
            LegOrder(awaiting_trade, 1, BUY_USDT, D("160000")),
            ves_book(),
            FEES,
            desk.now(),
        )
        t = session.get(OperatorTicket, waiting.ticket_id)
        assert [(s["pay"], s["receive"]) for s in t.instructions] == [("160000", "500")]
        assert t.planned_buy == D("500") * D("0.999")


def test_an_opportunity_stays_off_the_list_while_its_trade_runs_or_waits_for_an_operator(
    desk, opportunity, awaiting_trade
):
    def listed():
        with desk.sessions() as session:
            return [o.id for o in opportunities.list_active(session, desk.now())]

    assert opportunity.id not in listed()  # awaiting_operator: its ads are spoken for
    with desk.sessions.begin() as session:
        assert trades.transition(
            session, awaiting_trade, (tickets.AWAITING,), "executing", desk.now(), actor="w"
        )
    assert opportunity.id not in listed()
    with desk.sessions.begin() as session:
        assert trades.transition(
            session, awaiting_trade, ("executing",), "rejected", desk.now(), actor="w"
        )
    assert opportunity.id in listed()


def test_a_redelivered_leg_gets_its_existing_ticket(desk, awaiting_trade):
    assert open_sell(desk, awaiting_trade) == open_sell(desk, awaiting_trade)
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OperatorTicket)) == 1


def test_the_max_open_tickets_limit_refuses_the_next_leg(desk, awaiting_trade):
    open_sell(desk, awaiting_trade, max_open=1)
    with (
        desk.sessions.begin() as session,
        pytest.raises(LegRefused, match=r"max open operator tickets \(1\)"),
    ):
        tickets.open_ticket(
            session,
            LegOrder(awaiting_trade, 2, SELL_USDT, D("10")),
            ves_book(),
            FEES,
            desk.now(),
            1,
        )


def test_a_book_that_cannot_fill_the_leg_opens_no_ticket(desk, awaiting_trade):
    with pytest.raises(LegRefused, match="no longer holds 9000 USDT"):
        open_sell(desk, awaiting_trade, amount="9000")


def confirm(desk, ticket_id, **kw):
    body = dict(
        sold="500",
        bought="164800",
        fee="0",
        reference="BN-123",
        actor="ana",
        now=desk.now(),
        fees=MOVING,
    )
    body.update(kw)
    with desk.sessions.begin() as session:
        return tickets.confirm(session, ticket_id, **body)


def test_confirming_writes_the_leg_as_done_and_requests_the_trade_again(desk, awaiting_trade):
    t = confirm(
        desk, open_sell(desk, awaiting_trade).ticket_id, sold="400", bought="131900", fee="100"
    )
    assert (t.status, t.closed_by, t.reference) == ("confirmed", "ana", "BN-123")
    with desk.sessions() as session:
        leg = session.scalars(select(TradeLeg)).one()
        # 131,900 VES landed at Mercantil; moving them to Banesco (where leg 2 pays from)
        # costs 0.05 %: 65.95 VES
        assert (leg.seq, leg.sell_amount, leg.buy_amount, leg.fee) == (
            1,
            D("400"),
            D("131834.05"),
            D("165.95"),
        )
        assert leg.price == D("132000") / D("400")  # gross VES per USDT
        assert ledger.balances(session, {"bank:Banesco:VES", "fees:transfer:VES"}) == {
            "bank:Banesco:VES": D("131834.05"),
            "fees:transfer:VES": D("65.95"),
        }
        assert ledger.check(session) + trade_days.drift(session) == []
        assert session.get(Trade, awaiting_trade).status == "requested"
        assert (
            "confirmed leg 1 (partial), ref BN-123"
            in trades.events(session, awaiting_trade)[-1].detail
        )


def test_a_confirmed_ticket_takes_from_its_ads_pro_rata_so_the_desk_does_not_list_them_again(
    desk, awaiting_trade
):
    now = desk.now()
    listed = replace(ves_book(), fetched_at=now)
    with desk.sessions.begin() as session:  # the book the ticket names, as the desk lists it
        ingest.store(session, desk.cache, desk.settings, listed, now)
    ticket_id = open_sell(desk, awaiting_trade, priced_on=listed).ticket_id  # B1 200, B2 300
    confirm(desk, ticket_id, sold="400", bought="131900", fee="100")  # 4/5 of the ticket
    with desk.sessions() as session:
        books = liquidity.remaining(session, latest.get_many(session, desk.cache, [VES]))
        left = {a.ad_no: a.quantity for a in books[VES].bids}
        assert left == {"B1": D("40"), "B2": D("4760")}  # 200 - 160, 5000 - 240
        assert {
            (t.ad_no, t.quantity, t.fetched_at) for t in session.scalars(select(LiquidityTake))
        } == {
            ("B1", D("160"), now),
            ("B2", D("240"), now),
        }


def test_a_ticket_confirmed_after_a_newer_fetch_does_not_take_from_it_again(desk, awaiting_trade):
    """The operator traded, then the desk fetched the book (the ads already less what was
    taken), then the operator confirmed: that newer book is right as it is."""
    priced = desk.now() - timedelta(seconds=30)
    listed = replace(ves_book(), fetched_at=priced)
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, listed, priced)
    ticket_id = open_sell(desk, awaiting_trade, priced_on=listed).ticket_id  # B1 200, B2 300
    after = replace(
        ves_book(),
        bids=tuple(replace(b, quantity=b.quantity - {"B1": 160, "B2": 240}[b.ad_no])
                   for b in ves_book().bids),
        fetched_at=desk.now(),
    )  # fmt: skip
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, after, desk.now())
    confirm(desk, ticket_id, sold="400", bought="131900", fee="100")
    with desk.sessions() as session:
        books = liquidity.remaining(session, latest.get_many(session, desk.cache, [VES]))
        assert {a.ad_no: a.quantity for a in books[VES].bids} == {"B1": D("40"), "B2": D("4760")}
        assert {
            (t.ad_no, t.quantity, t.fetched_at) for t in session.scalars(select(LiquidityTake))
        } == {("B1", D("160"), priced), ("B2", D("240"), priced)}  # the book it was priced on
        assert session.get(OperatorTicket, ticket_id).book_fetched_at == priced


def test_the_takes_of_a_buy_ticket_are_in_the_asset_received():
    steps = [
        {"ad_no": "A1", "pay": "96000", "receive": "300"},
        {"ad_no": "A2", "pay": "64200", "receive": "200"},
    ]
    assert tickets.confirmed_takes(steps, "BUY", D("160200"), D("160200")) == [
        ("A1", D("300")),
        ("A2", D("200")),
    ]
    assert tickets.confirmed_takes(steps, "BUY", D("160200"), D("53400")) == [
        ("A1", D("100")),
        ("A2", D("66.666666666666666667")),
    ]


def test_confirming_twice_posts_once(desk, awaiting_trade):
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    confirm(desk, ticket_id)
    with pytest.raises(tickets.TicketError, match="already confirmed") as second:
        confirm(desk, ticket_id, bought="1")
    assert second.value.status == 409
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(TradeLeg)) == 1


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("sold", "501", "more than the ticket's 500 USDT"),
        ("sold", "0", "more than zero"),
        ("bought", "1e400", "not an amount"),
        ("bought", "NaN", "is not a number"),
        ("bought", "12,5", "not a number"),
        ("fee", "-1", "zero or more"),
        ("bought", "0." + "0" * 18 + "1", "not an amount"),  # 19 places: NUMERIC(38, 18)
        ("bought", "1" + "0" * 20, "not an amount"),  # 10^20: past NUMERIC(38, 18)
        ("sold", 500, "decimal string"),
        ("reference", "", "reference must be"),
    ],
)
def test_bad_confirmations_change_nothing(desk, awaiting_trade, field, value, message):
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    with pytest.raises(tickets.TicketError, match=message):
        confirm(desk, ticket_id, **{field: value})
    with desk.sessions() as session:
        assert session.get(OperatorTicket, ticket_id).status == "open"
        assert session.get(Trade, awaiting_trade).status == tickets.AWAITING


def test_cancelling_the_first_leg_ends_the_trade_cancelled_with_no_profit(desk, awaiting_trade):
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    with desk.sessions.begin() as session:
        tickets.cancel(session, ticket_id, reason="advertiser gone", actor="ana", now=desk.now())
    with desk.sessions() as session:
        trade = session.get(Trade, awaiting_trade)
        assert (trade.status, trade.profit_usd) == ("cancelled", D("0"))
        with pytest.raises(tickets.TicketError, match="already cancelled"):
            tickets.cancel(session, ticket_id, reason="again", actor="ana", now=desk.now())


def cancel_a_dust_ticket(desk, trade_id: int, seq: int) -> None:
    """Leg 1 confirmed selling 0.01 USDT for 0.004 VES (under the cent), then a ticket at
    ``seq`` to buy the USDT back with that 0.004 VES, cancelled: no ad takes so little."""
    confirm(desk, open_sell(desk, trade_id).ticket_id, sold="0.01", bought="0.004")
    now = desk.now()
    with desk.sessions.begin() as session:
        for to in ("executing", tickets.AWAITING):
            assert trades.transition(
                session, trade_id, ("requested", "executing"), to, now, actor="worker"
            )
        ticket = OperatorTicket(
            trade_id=trade_id, seq=seq, market=VES, side="BUY", method="Banesco",
            sell_currency="VES", buy_currency="USDT", planned_sell=D("0.004"),
            planned_buy=D("0"), instructions=[], status=tickets.OPEN, created_at=now,
        )  # fmt: skip
        session.add(ticket)
    with desk.sessions.begin() as session:
        tickets.cancel(session, ticket.id, reason="no ad that small", actor="ana", now=now)


def test_cancelling_a_later_leg_when_the_first_brought_only_dust_unwinds_to_record_it(
    desk, awaiting_trade
):
    """Leg 1 sold 0.01 USDT for 0.004 VES, under the cent: nothing to take back, but the
    trade is not simply cancelled: the unwind records the dust it keeps."""
    cancel_a_dust_ticket(desk, awaiting_trade, seq=2)
    with desk.sessions() as session:
        trade = session.get(Trade, awaiting_trade)
        assert (trade.status, trade.profit_usd) == ("unwinding", None)
        assert "nothing to take back" in trades.events(session, awaiting_trade)[-1].detail


def test_overdue_counts_open_tickets_past_the_alert_time(desk, awaiting_trade):
    open_sell(desk, awaiting_trade)
    with desk.sessions() as session:
        assert tickets.overdue(session, desk.now(), 900) == 0
        assert tickets.overdue(session, desk.now() + timedelta(seconds=901), 900) == 1
        opened = session.scalar(select(OperatorTicket.created_at))
        limit = opened + timedelta(seconds=900)  # exactly as old as the limit: not yet
        assert tickets.overdue(session, limit, 900) == 0
        assert tickets.overdue(session, limit + timedelta(microseconds=1), 900) == 1


# -- JSON API and CLI --------------------------------------------------------------


def test_the_api_lists_confirms_and_refuses_a_second_confirmation(
    app, desk, client, awaiting_trade
):
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    listed = client.get("/api/v1/tickets?status=open").json["tickets"]
    assert [t["id"] for t in listed] == [ticket_id] and listed[0]["instructions"][0][
        "ad_no"
    ] == "B1"
    body = {"sold": "500", "bought": "164800", "reference": "BN-9"}
    viewer = api_client(app, "viewer")
    assert viewer.post(f"/api/v1/tickets/{ticket_id}/confirm", json=body).status_code == 403
    r = client.post(f"/api/v1/tickets/{ticket_id}/confirm", json=body)
    assert r.status_code == 200 and r.json["status"] == "confirmed" and r.json["bought"] == "164800"
    again = client.post(f"/api/v1/tickets/{ticket_id}/confirm", json=body)
    assert again.status_code == 409 and "already confirmed" in again.json["error"]


@pytest.mark.parametrize(
    "body, status",
    [
        (None, 400),
        ({"sold": "1"}, 400),
        ({"reason": "x", "extra": 1}, 400),
        ({"sold": "x", "bought": "1", "reference": "r"}, 422),
    ],
)
def test_the_api_answers_bad_input_with_a_clear_4xx(desk, client, awaiting_trade, body, status):
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    r = client.post(f"/api/v1/tickets/{ticket_id}/confirm", json=body)
    assert r.status_code == status and r.json["error"]
    assert client.post("/api/v1/tickets/999/cancel", json={"reason": "x"}).status_code == 404
    assert client.get("/api/v1/tickets?status=bogus").status_code == 422


def test_the_cli_lists_and_cancels(app, desk, awaiting_trade):
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["tickets", "list"]).output
    assert f"#{ticket_id} trade {awaiting_trade} leg 1 SELL p2p:USDT/VES" in listed
    assert "ad B1 by CambiosRich at 331" in listed and "release 200" in listed
    out = runner.invoke(args=["tickets", "cancel", str(ticket_id), "--reason", "no answer"])
    assert out.exit_code == 0 and f"ticket {ticket_id} cancelled" in out.output
    again = runner.invoke(args=["tickets", "cancel", str(ticket_id), "--reason", "no answer"])
    assert again.exit_code == 1 and "already cancelled" in again.output


def test_the_cli_confirms(app, desk, awaiting_trade):
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    args = [
        "tickets",
        "confirm",
        str(ticket_id),
        "--sold",
        "500",
        "--bought",
        "164800",
        "--reference",
        "R1",
    ]
    out = app.test_cli_runner().invoke(args=args)
    assert out.exit_code == 0 and f"ticket {ticket_id} confirmed" in out.output


def test_the_watch_task_sets_the_gauges_the_overdue_alert_reads(app, desk, awaiting_trade):
    from backend.ops import metrics
    from tasks.tickets import watch

    open_sell(desk, awaiting_trade)
    with app.app_context():
        assert watch.run() == 0
    assert metrics.OPERATOR_TICKETS_OPEN._value.get() == 1
    desk.settings.ticket_alert_seconds = 0.001
    with app.app_context():
        assert watch.run() == 1
    assert metrics.OPERATOR_TICKETS_OVERDUE._value.get() == 1


def test_a_ticket_past_the_cycles_legs_is_its_unwinds_reverse_leg_k_of_n(
    desk, client, awaiting_trade
):
    first = open_sell(desk, awaiting_trade).ticket_id
    now = desk.now()
    with desk.sessions.begin() as session:
        # both legs of the cycle filled, leg 2 with 200 of leg 1's 330 VES: one reverse
        # leg takes the other 130 back (the count is the unwind's, not the filled legs')
        for seq, leg, sold, bought in ((1, SELL_USDT, "1", "330"), (2, BUY_USDT, "200", "0.6")):
            fill = LegFill(leg, D("330"), D(sold), D(bought), D("0"), True)
            legs.store(session, awaiting_trade, seq, fill, None, now, actor="worker")
        last = LegOrder(awaiting_trade, 2, BUY_USDT, D("3200"))  # the cycle's own last leg
        last = tickets.open_ticket(session, last, ves_book(), FEES, now, None).ticket_id
        order = LegOrder(awaiting_trade, 3, BUY_USDT, D("130"))  # the one reverse leg
        back = tickets.open_ticket(session, order, ves_book(), FEES, now, None).ticket_id
    listed = client.get("/api/v1/tickets").json["tickets"]
    assert sorted(
        (t["id"], t["unwind"], t["unwind_leg"], t["unwind_legs"]) for t in listed
    ) == sorted([(back, True, 1, 1), (last, False, None, None), (first, False, None, None)])
    r = client.post(f"/api/v1/tickets/{back}/cancel", json={"reason": "no answer"})
    assert (r.json["unwind_leg"], r.json["unwind_legs"]) == (1, 1)


def test_confirming_an_unwind_ticket_stores_the_reverse_leg_net_of_its_fee(desk, awaiting_trade):
    # leg 1: 1000 USDT sold for 330000 VES at Mercantil, 165.00 of them (0.05 %) pay the
    # move to Banesco, where leg 2 pays from: 329835.00 VES held there
    confirm(desk, open_sell(desk, awaiting_trade, "1000").ticket_id, sold="1000", bought="330000")
    now = desk.now()
    with desk.sessions.begin() as session:
        for to in ("executing", tickets.AWAITING):
            assert trades.transition(
                session, awaiting_trade, ("requested", "executing"), to, now, actor="worker"
            )
        second = tickets.open_ticket(
            session, LegOrder(awaiting_trade, 2, BUY_USDT, D("329835.00")), ves_book(), FEES, now
        ).ticket_id
    with desk.sessions.begin() as session:
        tickets.cancel(session, second, reason="advertiser gone", actor="ana", now=now)
        assert trades.transition(
            session, awaiting_trade, ("unwinding",), tickets.AWAITING, now, actor="worker"
        )
        back = tickets.open_ticket(
            session, LegOrder(awaiting_trade, 3, BUY_USDT, D("329835.00")), ves_book(), FEES, now
        ).ticket_id
    confirm(desk, back, sold="329835.00", bought="1029.70", fee="1.03")
    with desk.sessions() as session:
        leg = session.scalars(select(TradeLeg).where(TradeLeg.seq == 3)).one()
        # 1029.70 landed, the 1.03 fee on top: 1030.73 gross for 329835.00 VES
        assert (leg.sell_amount, leg.buy_amount, leg.fee) == (
            D("329835.00"),
            D("1029.70"),
            D("1.03"),
        )
        assert leg.price == D("329835.00") / D("1030.73")
        assert session.get(Trade, awaiting_trade).status == "unwinding"
        assert ledger.check(session) + trade_days.drift(session) == []


def test_a_tickets_planned_proceeds_carry_the_p2p_taker_fee_not_the_spot_one(desk, awaiting_trade):
    with desk.sessions.begin() as session:
        waiting = tickets.open_ticket(
            session,
            LegOrder(awaiting_trade, 1, BUY_USDT, D("160000")),
            ves_book(),
            Fees(p2p_taker=D("0.002"), spot_taker=D("0.001")),
            desk.now(),
        )
        # 160000 VES at 320 = 500 USDT, less 0.2 %: 1.00 USDT
        assert session.get(OperatorTicket, waiting.ticket_id).planned_buy == D("499.00")


def test_a_leg_whose_ticket_was_cancelled_gets_no_ticket_again(desk, awaiting_trade):
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    with desk.sessions.begin() as session:
        tickets.cancel(session, ticket_id, reason="no answer", actor="ana", now=desk.now())
    with pytest.raises(LegRefused, match=f"operator ticket {ticket_id} for leg 1 was cancelled"):
        open_sell(desk, awaiting_trade)


def test_an_unwind_ticket_cancelled_with_only_dust_left_ends_the_trade_with_its_legs_loss(
    desk, awaiting_trade
):
    """Leg 1 sold 0.01 USDT for 0.004 VES (under the cent): the unwind's ticket is
    cancelled, nothing is left to take back, the trade ends cancelled 0.01 USDT down."""
    cancel_a_dust_ticket(desk, awaiting_trade, seq=3)
    with desk.sessions() as session:
        trade = session.get(Trade, awaiting_trade)
        assert (trade.status, trade.profit_usd) == ("cancelled", D("-0.01"))
