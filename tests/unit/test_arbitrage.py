from decimal import Decimal

from backend.trading.arbitrage import best_rate, scan
from backend.trading.execution import Fees, Leg, cash_flows, profit_usd, run_cycle
from tests.factories import ad, book

D = Decimal
NO_FEES = Fees(D(0), D(0), D(0))
SIZES = [D(100), D(500), D(1000)]


def crossed_ves():
    """Someone pays 330 on Mercantil while asks on Banesco start at 320."""
    return {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(320, 5000, methods=("Banesco",)), ad(322, 5000, methods=("Mercantil",))],
            bids=[ad(330, 600, methods=("Mercantil",)), ad(318, 5000, methods=("Banesco",))],
        )
    }


def test_a_crossed_book_across_methods_is_found_and_sized_to_the_liquidity():
    [opp] = scan(crossed_ves(), SIZES, NO_FEES, D("0.5"))
    assert opp.strategy == "crossed_book"
    assert [(leg.side, leg.method) for leg in opp.legs] == [
        ("SELL", "Mercantil"),
        ("BUY", "Banesco"),
    ]
    # Only 600 USDT are bid at 330: 1000 is unfillable through that ad, 500 is the best size.
    assert opp.size_usd == D(500)
    # 165000 VES buy 515.625 USDT, settled to the cent in the house's disfavour: 515.62
    assert opp.profit_usd == D("15.62")


def test_an_ordinary_book_offers_nothing():
    books = {"p2p:USDT/VES": book("p2p:USDT/VES", asks=[ad(320, 5000)], bids=[ad(318, 5000)])}
    assert scan(books, SIZES, NO_FEES, D(0)) == []


def test_fees_are_netted_before_anything_counts_as_profit():
    books = {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(320, 5000, methods=("Banesco",))],
            bids=[ad(320.5, 5000, methods=("Mercantil",))],
        )
    }
    assert scan(books, SIZES, NO_FEES, D("0.01"))
    assert scan(books, SIZES, Fees(D(0), D(0), D("0.002")), D("0.01")) == []


def test_spot_against_p2p_in_the_same_fiat():
    books = {
        "p2p:USDT/BRL": book(
            "p2p:USDT/BRL",
            asks=[ad(5.60, 9000, methods=("PIX",))],
            bids=[ad(5.55, 9000, methods=("PIX",))],
        ),
        "spot:USDT/BRL": book(
            "spot:USDT/BRL", asks=[ad(5.45, 9000, methods=())], bids=[ad(5.44, 9000, methods=())]
        ),
    }
    [opp] = scan(books, SIZES, Fees(D(0), D("0.001"), D(0)), D("0.5"))
    assert opp.strategy == "spot_p2p"
    assert [leg.market for leg in opp.legs] == ["p2p:USDT/BRL", "spot:USDT/BRL"]


def test_a_triangle_through_btc_is_labelled_as_such():
    books = {
        "p2p:USDT/VES": book("p2p:USDT/VES", asks=[ad(325, 9000)], bids=[ad(320, 9000)]),
        "p2p:BTC/VES": book("p2p:BTC/VES", asks=[ad(30_000_000, 1)], bids=[ad(29_000_000, 1)]),
        "spot:BTC/USDT": book(
            "spot:BTC/USDT", asks=[ad(96_100, 5, methods=())], bids=[ad(96_000, 5, methods=())]
        ),
    }
    opps = scan(books, SIZES, NO_FEES, D("0.5"))
    # 1 USDT -> 320 VES -> 320/30M BTC -> *96000 USDT = 1.024 USDT
    assert [o.strategy for o in opps] == ["triangle"]
    assert [leg.market for leg in opps[0].legs] == ["p2p:USDT/VES", "p2p:BTC/VES", "spot:BTC/USDT"]


def test_profit_is_the_sum_of_the_legs_cash_flows():
    [opp] = scan(crossed_ves(), SIZES, Fees(D(0), D("0.001"), D("0.0005")), D("0.5"))
    fills = run_cycle(opp.legs, crossed_ves(), opp.size_usd, Fees(D(0), D("0.001"), D("0.0005")))
    flows = cash_flows(fills)
    assert flows["VES"] == 0  # what one leg buys, the next sells, exactly
    assert profit_usd(fills) == flows["USDT"] == opp.profit_usd


def test_a_transfer_between_banks_costs_its_fee_on_the_moved_amount():
    fees = Fees(D(0), D(0), D("0.001"))
    [opp] = scan(crossed_ves(), SIZES, fees, D("0.5"))
    first = opp.fills[0]
    assert first.fee == (D(500) * D(330) * D("0.001")).quantize(D("1e-12"))
    assert opp.fills[1].sell_amount == first.buy_amount


def test_the_scan_prices_the_slippage_the_executor_will_pay():
    fees = Fees(D(0), D(0), D(0))
    [plain] = scan(crossed_ves(), SIZES, fees, D("0.5"))
    [slipped] = scan(crossed_ves(), SIZES, fees, D("0.5"), slippage=D("0.001"))
    fills = run_cycle(slipped.legs, crossed_ves(), slipped.size_usd, fees, D("0.001"))
    assert slipped.profit_usd == profit_usd(fills) < plain.profit_usd


def test_the_best_rate_takes_the_cheapest_ask_and_the_dearest_bid_its_method_can_take():
    books = {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(0, 10), ad(310, 10, methods=("Zelle",)), ad(320, 10), ad(325, 10)],
            bids=[ad(340, 10, methods=("Zelle",)), ad(330, 10), ad(329, 10)],
        )
    }
    sell = Leg("p2p:USDT/VES", "SELL", "Banesco", "USDT", "VES")
    buy = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")
    # 330 / 320: not the Zelle ads, and an ad priced 0 is no price
    assert best_rate((sell, buy), books) == D("1.03125")


def test_the_best_rate_of_a_buy_below_par_is_its_inverse_price():
    books = {"p2p:USDT/EUR": book("p2p:USDT/EUR", asks=[ad("0.80", 10)], bids=[ad("0.90", 10)])}
    sell = Leg("p2p:USDT/EUR", "SELL", "Banesco", "USDT", "EUR")
    buy = Leg("p2p:USDT/EUR", "BUY", "Banesco", "EUR", "USDT")
    assert best_rate((sell, buy), books) == D("1.125")  # 0.90 / 0.80, not 0.90 x 0.80


def test_a_cycle_whose_last_leg_cannot_spend_what_it_holds_is_not_listed():
    # 100 USDT sell for 33,000 VES, but the asks hold only 200 USDT (20,000 VES): the
    # 13,000 VES left would strand, though the 200 USDT bought already show a profit
    books = {
        "p2p:USDT/VES": book(
            "p2p:USDT/VES",
            asks=[ad(100, 200, methods=("Banesco",))],
            bids=[ad(330, 5000, methods=("Mercantil",))],
        )
    }
    assert scan(books, [D(100)], NO_FEES, D(0)) == []


def test_opportunities_are_listed_best_profit_first():
    books = crossed_ves() | {
        "p2p:USDT/BRL": book(
            "p2p:USDT/BRL",
            asks=[ad("5.00", 5000, methods=("PIX",))],
            bids=[ad("5.50", 5000, methods=("TED",))],
        )
    }
    # BRL: 1000 USDT -> 5500 BRL -> 1100 USDT; VES: 500 USDT -> 165000 VES -> 515.62 USDT
    assert [o.profit_usd for o in scan(books, SIZES, NO_FEES, D("0.5"))] == [D(100), D("15.62")]


def test_a_cycle_of_four_legs_is_not_tried():
    # USDT -> VES -> BTC -> BRL -> USDT pays 100 -> 132 USDT, but cycles stop at 3 legs
    books = {
        "p2p:USDT/VES": book("p2p:USDT/VES", bids=[ad(330, 5000)]),
        "p2p:BTC/VES": book("p2p:BTC/VES", asks=[ad(30_000_000, 1)]),
        "p2p:BTC/BRL": book("p2p:BTC/BRL", bids=[ad(600_000, 1)]),
        "p2p:USDT/BRL": book("p2p:USDT/BRL", asks=[ad("5.00", 5000)]),
    }
    assert scan(books, SIZES, NO_FEES, D(0)) == []


def test_at_equal_profit_the_first_size_tried_is_kept():
    # 100.004 USDT is sold as 100.00 (cent steps): the same fills, the same profit
    [opp] = scan(crossed_ves(), [D(100), D("100.004")], NO_FEES, D("0.5"))
    assert (opp.size_usd, opp.profit_usd) == (D(100), D("3.12"))


def test_profit_in_basis_points_is_of_the_size_put_in():
    [opp] = scan(crossed_ves(), SIZES, NO_FEES, D("0.5"))
    assert opp.profit_bps == D("312.4")  # 15.62 / 500 x 10,000
