"""Every amount the desk computes, pinned to the cent: fees (P2P taker, spot taker on
spot legs only, transfers), slippage, venue rounding, limits, expiry, liquidity used
once. Each number below is worked out by hand in the comment beside it."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.market import ingest, latest
from backend.market.book import Market
from backend.market.precision import of
from backend.market.pricing import walk
from backend.models import LiquidityTake, Opportunity, PriceTick, Trade
from backend.trading import arbitrage, controls, executor, liquidity, opportunities, trades
from backend.trading.arbitrage import scan
from backend.trading.execution import Fees, Leg, profit_usd, run_cycle
from tasks.arbitrage import scan as scan_task
from tests.factories import NOW, ad, book
from tests.unit.conftest import crossed_books

D = Decimal
NO_FEES = Fees(D(0), D(0), D(0))
SELL_330 = Leg("p2p:USDT/VES", "SELL", "Mercantil", "USDT", "VES")
BUY_320 = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")


def ves_books():
    return {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(320, 5000, methods=("Banesco",))],
            bids=[ad(330, 5000, methods=("Mercantil",))],
        )
    }


def amounts(fills):
    return [(f.sell_amount, f.buy_amount, f.fee, f.transfer) for f in fills]


def test_the_p2p_taker_fee_is_charged_on_each_p2p_legs_proceeds_rounded_up():
    fills = run_cycle((SELL_330, BUY_320), ves_books(), D(1000), Fees(D("0.001"), D(0), D(0)))
    # 330000.00 VES, fee 330.00 -> 329670.00; /320 = 1030.21875 -> 1030.21 USDT,
    # fee 1.03021 -> 1.04 (up), 1029.17 left
    assert amounts(fills) == [
        (D(1000), D("329670.00"), D("330.00"), D(0)),
        (D("329670.00"), D("1029.17"), D("1.04"), D(0)),
    ]
    assert profit_usd(fills) == D("29.17")


def test_the_spot_fee_only_on_the_spot_leg_and_a_transfer_from_the_bank_to_the_wallet():
    books = {
        "p2p:USDT/BRL": book("p2p:USDT/BRL", bids=[ad(5.55, 9000, methods=("PIX",))]),
        "spot:USDT/BRL": book("spot:USDT/BRL", asks=[ad(5.45, 9000, methods=())]),
    }
    legs = (
        Leg("p2p:USDT/BRL", "SELL", "PIX", "USDT", "BRL"),
        Leg("spot:USDT/BRL", "BUY", None, "BRL", "USDT"),
    )
    fills = run_cycle(legs, books, D(1000), Fees(D(0), D("0.001"), D("0.0005")))
    # P2P: 5550.00 BRL, no spot fee; bank:PIX:BRL -> binance:BRL costs 2.775 -> 2.78
    # spot: 5547.22 / 5.45 = 1017.8385 -> 1017.83 USDT, fee 1.01783 -> 1.02
    assert amounts(fills) == [
        (D(1000), D("5547.22"), D("2.78"), D("2.78")),
        (D("5547.22"), D("1016.81"), D("1.02"), D(0)),
    ]
    assert profit_usd(fills) == D("16.81")


def test_the_transfer_fee_between_two_banks_is_on_the_moved_amount():
    fills = run_cycle((SELL_330, BUY_320), ves_books(), D(1000), Fees(D(0), D(0), D("0.0005")))
    # 330000.00 VES, transfer 165.00 -> 329835.00; /320 = 1030.734375 -> 1030.73
    assert amounts(fills) == [
        (D(1000), D("329835.00"), D("165.00"), D("165.00")),
        (D("329835.00"), D("1030.73"), D(0), D(0)),
    ]


def test_paper_slippage_is_taken_off_each_legs_proceeds():
    fills = run_cycle((SELL_330, BUY_320), ves_books(), D(1000), NO_FEES, D("0.0005"))
    # 330000 x 0.9995 = 329835.00; /320 = 1030.734375 -> 1030.73 x 0.9995 = 1030.21463 -> 1030.21
    assert [f.buy_amount for f in fills] == [D("329835.00"), D("1030.21")]
    assert profit_usd(fills) == D("30.21")


def test_an_order_never_takes_more_than_the_ad_allows_in_venue_steps():
    """33340 VES max at 399 is 83.5588972431... USDT: Binance settles 83.55."""
    m = Market.parse("p2p:USDT/VES")
    fill = walk((ad(399, 500, max_amount=33340),), D(100), precision=of(m))
    assert fill.takes == (("ad-399-500-Banesco", D(399), D("83.55")),)
    assert fill.amount == D("33336.45") and not fill.complete


def test_a_short_leg_records_what_it_really_took_not_what_it_was_given():
    """A 2 USDT bid and a 640 VES ask: 1000 USDT in, 2 sold; 660 VES in, 640 spent."""
    books = {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(320, 2, methods=("Banesco",))],
            bids=[ad(330, 2, methods=("Mercantil",))],
        )
    }
    (sell,) = run_cycle((SELL_330,), books, D(1000), NO_FEES)
    assert (sell.sell_amount, sell.buy_amount, sell.complete) == (D(2), D("660.00"), False)
    (buy,) = run_cycle((BUY_320,), books, D(660), NO_FEES)
    assert (buy.sell_amount, buy.buy_amount, buy.complete) == (D("640.00"), D(2), False)


def test_the_scan_tries_every_size_even_after_one_that_cannot_fill():
    """The 330 bid takes no order under 800000 VES: 100 and 500 USD cannot fill, 2500 can."""
    books = {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(320, 5000, methods=("Banesco",))],
            bids=[ad(330, 5000, min_amount=800000, methods=("Mercantil",))],
        )
    }
    for sizes in ([D(100), D(500), D(2500)], [D(2500), D(100)]):
        [opp] = scan(books, sizes, NO_FEES, D("0.5"))
        # 2500 x 330 = 825000 VES / 320 = 2578.125 -> 2578.12 USDT
        assert (opp.size_usd, opp.profit_usd) == (D(2500), D("78.12"))


def test_a_break_even_cycle_is_not_listed_even_with_a_zero_minimum():
    books = {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(320, 5000, methods=("Banesco",))],
            bids=[ad(320, 5000, methods=("Mercantil",))],
        )
    }
    assert scan(books, [D(100)], NO_FEES, D(0)) == []


def test_a_cycle_whose_rounding_eats_its_edge_is_not_listed_with_a_zero_minimum():
    books = {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(320, 5000, methods=("Banesco",))],
            bids=[ad("320.01", 5000, methods=("Mercantil",))],
        )
    }
    # a better rate than 1 (320.01 / 320), yet 100 USDT -> 32001 VES -> 100.003125 USDT,
    # rounded down to the cent: 100.00, a profit of exactly zero
    assert scan(books, [D(100)], NO_FEES, D(0)) == []


def test_the_scan_honours_the_minimum_profit():
    # 1000 USD at 330/320 without fees: 1031.25 -> 31.25 USD
    assert scan(ves_books(), [D(1000)], NO_FEES, D("31.25"))
    assert scan(ves_books(), [D(1000)], NO_FEES, D("31.26")) == []


def test_listed_profit_is_rounded_down_never_half_even(desk):
    [opp] = scan(ves_books(), [D(1000)], NO_FEES, D("0.5"))
    found = arbitrage.Opportunity(opp.strategy, opp.legs, D(1000), D("0.0199"), opp.fills)
    with desk.sessions.begin() as session:
        opportunities.record_scan(session, [found], NOW, 20)
    with desk.sessions() as session:
        row = session.scalars(select(Opportunity)).one()
        # half-even would list 0.02 USD and 0.20 bps
        assert (row.profit_usd, row.profit_bps) == (D("0.01"), D("0.19"))
        assert row.expires_at == NOW + timedelta(seconds=20)


def test_an_unfillable_size_stores_no_price_tick_price(desk):
    thin = book("p2p:USDT/VES", fetched_at=desk.now(), asks=[ad(320, 100)], bids=[ad(318, 100)])
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, thin, desk.now())
    with desk.sessions() as session:
        tick = session.scalars(select(PriceTick)).one()
    # 500 USD of a 100 USDT book: no effective price, only the best ones
    assert (tick.effective_bid, tick.effective_ask) == (None, None)
    assert (tick.best_bid, tick.best_ask) == (D(318), D(320))


def store(desk, books, at):
    with desk.sessions.begin() as session:
        for b in books:
            ingest.store(session, desk.cache, desk.settings, b, at)


def test_stale_and_failing_markets_are_left_out_of_the_scan(app, desk):
    old = desk.now() - timedelta(seconds=desk.settings.stale_after_seconds + 1)
    store(desk, crossed_books(old), old)
    with app.app_context():
        assert scan_task.run() == 0
    store(desk, crossed_books(desk.now()), desk.now())
    with desk.sessions.begin() as session:
        latest.record_error(session, "p2p:USDT/VES", "HTTP 503")
    with app.app_context():
        assert scan_task.run() == 0


def request(session, opportunity_id, size, key, now):
    trade, _ = trades.request_trade(
        session, opportunity_id=opportunity_id, size=size, key=key, user="t", now=now
    )
    return trade.id


def test_an_opportunity_expires_at_its_ttl_to_the_microsecond(desk, opportunity):
    expires = opportunity.expires_at
    assert expires == opportunity.last_seen + timedelta(
        seconds=desk.settings.opportunity_ttl_seconds
    )
    with desk.sessions() as session:
        listed = opportunities.list_active
        assert [o.id for o in listed(session, expires - timedelta(microseconds=1))] == [
            opportunity.id
        ]
        assert listed(session, expires) == []
    with desk.sessions.begin() as session:
        request(session, opportunity.id, "100", "before", expires - timedelta(microseconds=1))
    with (
        pytest.raises(trades.TradeRequestError, match="has expired"),
        desk.sessions.begin() as session,
    ):
        request(session, opportunity.id, "100", "at", expires)


def run(desk, trade_id):
    return executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now)


def error(desk, trade_id):
    with desk.sessions() as session:
        return session.get(Trade, trade_id).error


@pytest.mark.parametrize(
    "key,value,size,reason",
    [
        ("max_trade_usd", "999.99", "1000", "size 1000 USD exceeds the 999.99 USD limit"),
        (
            "min_profit_usd",
            "29.70",
            "1000",
            "profit at current books 29.69 USD is below the 29.70 USD minimum",
        ),
        (
            "max_daily_notional_usd",
            "999",
            "1000",
            "daily notional 0 + 1000 USD exceeds the 999 USD daily limit",
        ),
    ],
)
def test_each_limit_refuses_with_its_numbers(desk, opportunity, key, value, size, reason):
    with desk.sessions.begin() as session:
        controls.change(session, key, value, actor="t", now=desk.now())
        trade_id = request(session, opportunity.id, size, "k", desk.now())
    assert run(desk, trade_id) == "rejected"
    assert error(desk, trade_id).startswith(reason)


def test_the_same_trade_fills_exactly_at_the_limits(desk, opportunity):
    with desk.sessions.begin() as session:
        for key, value in (
            ("max_trade_usd", "1000"),
            ("min_profit_usd", "29.69"),
            ("max_daily_notional_usd", "1000"),
        ):
            controls.change(session, key, value, actor="t", now=desk.now())
        trade_id = request(session, opportunity.id, "1000", "k", desk.now())
    assert run(desk, trade_id) == "filled"
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).profit_usd == D("29.69")


def test_a_custom_size_is_stored_with_the_profit_that_size_pays(client, desk, opportunity):
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": "100"},
        headers={"Idempotency-Key": "small"},
    )
    # 100 USDT: 32983.50 VES, transfer 16.50, 32967.00 / 320 = 103.02 x 0.9995 -> 102.96
    assert r.status_code == 201 and r.json["expected_profit_usd"] == "2.96"
    assert opportunity.profit_usd != D("2.96")
    big = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": "9000"},
        headers={"Idempotency-Key": "too-big"},
    )
    assert big.status_code == 409 and "cannot fill 9000 USD" in big.json["error"]


def test_twenty_requests_for_one_opportunity_fill_only_what_the_books_hold(
    app, client, desk, opportunity
):
    """5000 USDT of asks at 320: four 1000 USD cycles take 4 x 1030.21 = 4120.84 of them,
    the fifth needs 1030.21 of the 879.16 left."""
    ids = []
    for i in range(20):
        r = client.post(
            "/api/v1/trades",
            json={"opportunity_id": opportunity.id, "size": "1000"},
            headers={"Idempotency-Key": f"many-{i}"},
        )
        assert r.status_code == 201
        ids.append(r.json["id"])
    assert client.get("/api/v1/opportunities").json["opportunities"] == []  # in flight
    statuses = [run(desk, trade_id) for trade_id in ids]
    assert statuses.count("filled") == 4
    assert error(desk, ids[4]) == "books cannot fill this size any more"
    with desk.sessions() as session:
        takes = session.execute(select(LiquidityTake.side, LiquidityTake.quantity)).all()
        profit = sum(t.profit_usd for t in session.scalars(select(Trade)) if t.profit_usd)
    assert sum(q for side, q in takes if side == "SELL") == D(4000)
    assert sum(q for side, q in takes if side == "BUY") == D("4120.84")
    assert profit == 4 * D("29.69")
    again = client.post(  # priced on what the fills left, not on the book as fetched
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": "1000"},
        headers={"Idempotency-Key": "after"},
    )
    assert again.status_code == 409 and "cannot fill 1000 USD" in again.json["error"]
    with app.app_context():  # the next scan prices what is left: 879.16 USDT of asks
        assert scan_task.run() == 1
    [listed] = client.get("/api/v1/opportunities").json["opportunities"]
    # 500 USD: 164917.50 VES, transfer 82.46, 164835.04 / 320 -> 515.10 x 0.9995 -> 514.84
    assert (listed["size_usd"], listed["profit_usd"]) == ("500", "14.84")


def test_a_fresher_book_brings_the_liquidity_back(app, client, desk, opportunity):
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": "2500"},
        headers={"Idempotency-Key": "big"},
    )
    assert run(desk, r.json["id"]) == "filled"
    with app.app_context():
        scan_task.run()
    with desk.sessions() as session:
        [row] = opportunities.list_active(session, desk.now())
        # 2500 took 2575.54 of the 5000 asks: 2424.46 left, 1000 fits and 2500 no longer
        assert row.size_usd == D(1000)
    store(desk, crossed_books(desk.now() + timedelta(seconds=1)), desk.now())
    with desk.sessions() as session:
        books = latest.get_many(session, desk.cache, ["p2p:USDT/VES"])
        fresh = liquidity.remaining(session, books)["p2p:USDT/VES"]
    assert fresh.asks[0].quantity == D(5000)


def test_takes_come_off_their_own_side_and_an_ad_taken_whole_is_gone():
    asks = (ad("330", "100", ad_no="a1"), ad("331", "50", ad_no="a2"))
    bids = (ad("320", "80", ad_no="b1"),)
    left = liquidity.less(
        book("p2p:USDT/VES", asks, bids),
        {
            ("BUY", "a1"): Decimal("100"),
            ("BUY", "a2"): Decimal("20.5"),
            ("SELL", "a2"): Decimal("9"),
        },
    )
    assert [(a.ad_no, a.quantity) for a in left.asks] == [("a2", Decimal("29.5"))]
    assert [(b.ad_no, b.quantity) for b in left.bids] == [("b1", Decimal("80"))]


def test_a_read_of_one_row_and_the_takes_counts_every_take_and_none_without():
    """PostgreSQL reads the controls, the day's sums or the failing markets with the takes
    in one statement: the head's values on every row, then one take per row, or NULLs."""
    books = {"p2p:USDT/VES": book("p2p:USDT/VES", asks=[ad("330", "100", ad_no="a1")],
                                  bids=[ad("320", "80", ad_no="b1")])}  # fmt: skip
    at = books["p2p:USDT/VES"].fetched_at
    rows = [
        ("head", "p2p:USDT/VES", "BUY", "a1", at, D("30")),
        ("head", "p2p:USDT/VES", "SELL", "b1", at, D("80")),
        ("head", "p2p:USDT/VES", "BUY", "a1", at, D("0.5")),
    ]
    head, left = liquidity.split(rows, books)
    assert head == ("head",)
    assert [(a.ad_no, a.quantity) for a in left["p2p:USDT/VES"].asks] == [("a1", D("69.5"))]
    assert left["p2p:USDT/VES"].bids == ()
    assert liquidity.split([("head", None, None, None, None, None)], books) == (("head",), books)


def test_a_requested_size_is_priced_rounded_down_to_the_cent(desk):
    """A cycle ending on spot (USDT to 8 places) pays fractions of a cent: the expected
    profit stored with a request is rounded down, never half-even up."""
    from backend.trading import quotes

    legs = (
        Leg("p2p:USDT/VES", "SELL", "Mercantil", "USDT", "VES"),
        Leg("p2p:BTC/VES", "BUY", "Mercantil", "VES", "BTC"),
        Leg("spot:BTC/USDT", "SELL", None, "BTC", "USDT"),
    )
    books = {
        "p2p:USDT/VES": book("p2p:USDT/VES", bids=[ad(330, 5000, methods=("Mercantil",))]),
        "p2p:BTC/VES": book("p2p:BTC/VES", asks=[ad(33000000, 1, methods=("Mercantil",))]),
        "spot:BTC/USDT": book("spot:BTC/USDT", bids=[ad("100376.6", 10, methods=())]),
    }
    now = desk.now()
    with desk.sessions.begin() as session:
        for b in books.values():
            ingest.store(session, desk.cache, desk.settings, replace(b, fetched_at=now), now)
    fills = run_cycle(legs, books, D(1000), quotes.fees_from(desk.settings),
                      desk.settings.paper_slippage)  # fmt: skip
    exact = profit_usd(fills)
    assert exact == D("1.25859202")  # half-even would say 1.26
    with desk.sessions() as session:
        priced = quotes.reprice(
            session, desk.cache, desk.settings, [leg.to_dict() for leg in legs], D(1000), now
        )
    assert priced == D("1.25")


def test_active_opportunities_are_listed_by_profit_as_money_not_as_text(desk):
    [opp] = scan(ves_books(), [D(1000)], NO_FEES, D("0.5"))
    other_legs = (replace(SELL_330, method="Banesco"), BUY_320)
    found = [
        arbitrage.Opportunity(opp.strategy, opp.legs, D(1000), D("9.50"), opp.fills),
        arbitrage.Opportunity(opp.strategy, other_legs, D(1000), D("10.25"), opp.fills),
    ]
    with desk.sessions.begin() as session:
        opportunities.record_scan(session, found, NOW, 20)
    with desk.sessions() as session:
        listed = opportunities.list_active(session, NOW)
        assert [row.profit_usd for row in listed] == [D("10.25"), D("9.50")]


def test_a_requested_size_on_a_stale_book_has_no_price(desk):
    from backend.trading import quotes

    then = desk.now()
    store(desk, [replace(b, fetched_at=then) for b in ves_books().values()], then)
    legs = [SELL_330.to_dict(), BUY_320.to_dict()]
    later = then + timedelta(seconds=desk.settings.stale_after_seconds + 1)
    with desk.sessions() as session:
        fresh = quotes.reprice(session, desk.cache, desk.settings, legs, D(1000), then)
        stale = quotes.reprice(session, desk.cache, desk.settings, legs, D(1000), later)
    # 1000 USDT -> 330000 VES, less 0.05 % slippage: 329835.00, less the 0.05 % transfer
    # from Mercantil to Banesco (164.92): 329670.08 VES -> 1030.21 USDT at 320, less 0.05 %
    # slippage: 1029.69 USDT, a profit of 29.69
    assert (fresh, stale) == (D("29.69"), None)


def test_a_book_exactly_as_old_as_the_limit_is_still_trusted_for_a_trade(desk):
    """The executor and the trade request trust a book up to ``STALE_AFTER_SECONDS`` old,
    that second included (as the Prices page does); one microsecond more and it is stale."""
    from backend.trading import quotes

    then, limit = desk.now(), desk.settings.stale_after_seconds
    store(desk, [replace(b, fetched_at=then) for b in ves_books().values()], then)
    legs = [SELL_330.to_dict(), BUY_320.to_dict()]
    at_limit = then + timedelta(seconds=limit)
    past = at_limit + timedelta(microseconds=1)
    with desk.sessions() as session:
        books = latest.get_many(session, desk.cache, ["p2p:USDT/VES"])
        assert latest.stale(session, books, ["p2p:USDT/VES"], at_limit, limit) == set()
        assert latest.stale(session, books, ["p2p:USDT/VES"], past, limit) == {"p2p:USDT/VES"}
        fresh = quotes.reprice(session, desk.cache, desk.settings, legs, D(1000), at_limit)
        stale = quotes.reprice(session, desk.cache, desk.settings, legs, D(1000), past)
    assert (fresh, stale) == (D("29.69"), None)  # priced as in the test above


def test_a_take_counts_against_its_book_read_beside_a_newer_one(desk, opportunity):
    """A cycle over two markets reads both books: a take against the older fetch still
    comes off it, whatever the other book's age."""
    with desk.sessions.begin() as session:
        trade_id = request(session, opportunity.id, "1000", "k", desk.now())
    assert run(desk, trade_id) == "filled"
    later = desk.now() + timedelta(seconds=1)
    brl = book("p2p:USDT/BRL", asks=[ad("5.45", 9000)], bids=[ad("5.55", 9000)], fetched_at=later)
    store(desk, [brl], later)
    with desk.sessions() as session:
        books = latest.get_many(session, desk.cache, ["p2p:USDT/VES", "p2p:USDT/BRL"])
        left = liquidity.remaining(session, books)
    # 1000 USDT sold to the 330 bid: 330000 VES, less slippage and the Mercantil to Banesco
    # transfer, 329670.08 VES spent at 320: 1030.21 USDT taken of the 5000 asks
    ves = left["p2p:USDT/VES"]
    assert [(a.price, a.quantity) for a in ves.asks] == [(D(320), D("3969.79"))]
    assert [(b.price, b.quantity) for b in ves.bids] == [(D(330), D(4000)), (D(318), D(9000))]
    assert left["p2p:USDT/BRL"] == books["p2p:USDT/BRL"]


def test_a_requested_size_is_priced_on_what_fills_left_and_never_on_a_failing_book(
    desk, opportunity
):
    """4000 USD fit the book as fetched: 4000 USDT at 330, 1319340.00 VES after slippage,
    less the 659.67 transfer, 1318680.33 VES buy 4120.87 of the 5000 USDT asked at 320,
    4118.80 after slippage. Once a 1000 USD fill took 1030.21 of those asks, the 3969.79
    left cannot fill it; 100 USD still can (2.96, as priced above) until the market's
    last poll fails."""
    from backend.trading import quotes

    def price(size):
        with desk.sessions() as session:
            return quotes.reprice(
                session, desk.cache, desk.settings, opportunity.legs, D(size), desk.now()
            )

    assert price(4000) == D("118.80")
    with desk.sessions.begin() as session:
        trade_id = request(session, opportunity.id, "1000", "k", desk.now())
    assert run(desk, trade_id) == "filled"
    assert (price(4000), price(100)) == (None, D("2.96"))
    with desk.sessions.begin() as session:
        latest.record_error(session, "p2p:USDT/VES", "HTTP 503")
    assert price(100) is None
