from datetime import timedelta
from decimal import Decimal

from backend.market import prices
from backend.market.book import Book, Market
from backend.market.precision import EXACT, of
from backend.market.pricing import depth_within, reference, walk, walk_amount
from tests.factories import NOW, ad, book

D = Decimal


def test_walk_takes_the_best_ads_first_and_reports_the_vwap():
    asks = (ad(100, 5), ad(101, 5), ad(102, 5))
    fill = walk(asks, D(8))
    assert fill.complete
    assert fill.amount == D(5 * 100 + 3 * 101)
    assert fill.price == D(803) / D(8)


def test_walk_never_takes_more_than_an_ads_max_per_order():
    asks = (ad(100, 50, max_amount=200), ad(110, 50))
    fill = walk(asks, D(5))
    assert [(no, q) for no, _, q in fill.takes] == [(asks[0].ad_no, D(2)), (asks[1].ad_no, D(3))]


def test_walk_skips_an_ad_whose_minimum_the_slice_cannot_meet():
    asks = (ad(100, 50, min_amount=1000), ad(105, 50))
    fill = walk(asks, D(3))  # 300 fiat < 1000 minimum
    assert fill.takes == ((asks[1].ad_no, D(105), D(3)),)


def test_walk_reports_an_unfillable_size_instead_of_pretending():
    fill = walk((ad(100, 2),), D(5))
    assert not fill.complete and fill.quantity == D(2)


def test_walk_only_uses_ads_that_accept_the_payment_method():
    asks = (ad(99, 5, methods=("Zelle",)), ad(100, 5, methods=("Banesco",)))
    assert walk(asks, D(1), method="Banesco").price == D(100)


def test_walk_amount_spends_a_fiat_budget():
    asks = (ad(100, 1), ad(200, 10))
    fill = walk_amount(asks, D(300))
    assert fill.complete and fill.quantity == D(2) and fill.amount == D(300)


def test_depth_counts_only_ads_within_one_percent_of_best():
    bids = (ad(100, 1), ad(99.5, 2), ad(98, 4))
    assert depth_within(bids) == D(3)


def test_reference_prices_a_ticket_by_walking_both_sides():
    b = book("p2p:USDT/VES", asks=[ad(101, 3), ad(102, 10)], bids=[ad(99, 3), ad(98, 10)])
    ref = reference(b, [D(5)], D(1), NOW, stale_after=10)
    q = ref.sizes[0]
    assert (ref.best_bid, ref.best_ask, ref.mid) == (D(99), D(101), D(100))
    assert ref.spread_pct == D(2)
    assert q.effective_ask == (D(303) + D(204)) / 5
    assert q.effective_bid == (D(297) + D(196)) / 5
    assert q.ask_fillable and q.bid_fillable and not ref.stale


P2P = of(Market.parse("p2p:USDT/VES"))
SPOT_BTC = of(Market.parse("spot:BTC/USDT"))


def test_each_order_pays_its_fiat_rounded_down_to_the_cent():
    # 100.01 x 36.457 = 3646.06457 VES, settled as 3646.06; two orders round separately
    assert walk((ad("36.457", 1000),), D("100.01"), precision=P2P).amount == D("3646.06")
    two = walk(
        (ad("36.457", "50.01", ad_no="a"), ad("36.457", 1000, ad_no="b")),
        D("100.01"),
        precision=P2P,
    )
    # 50.01 x 36.457 = 1823.21457 -> 1823.21; 50.00 x 36.457 = 1822.85 -> 3646.06
    assert two.amount == D("3646.06") and len(two.takes) == 2


def test_an_ad_with_no_price_is_never_taken():
    bids = (ad(0, 100, ad_no="zero"), ad(-5, 100, ad_no="negative"), ad(330, 100, ad_no="real"))
    assert [no for no, _, _ in walk(bids, D(10)).takes] == ["real"]
    assert [no for no, _, _ in walk_amount(bids, D(330)).takes] == ["real"]


def test_a_fiat_slice_rounded_below_the_ads_minimum_is_skipped():
    # 1000.00 VES at 320 buys 3.125 -> 3.12 USDT, worth 998.40 VES: under the 1000 minimum
    asks = (ad(320, 100, min_amount=1000),)
    fill = walk_amount(asks, D(1000), precision=P2P)
    assert fill.takes == () and not fill.complete


def test_a_fiat_budget_with_one_whole_step_left_is_not_complete():
    # the ad holds 10 USDT = 3200 VES; 3200.01 leaves exactly one cent unspent
    asks = (ad(320, 10),)
    assert not walk_amount(asks, D("3200.01"), precision=P2P).complete
    assert walk_amount(asks, D("3200.00"), precision=P2P).complete


def test_a_spot_btc_order_is_cut_to_binances_lot_step():
    fill = walk((ad(60000, 1),), D("0.123456789"), precision=SPOT_BTC)
    assert fill.takes[0][2] == D("0.12345") and fill.amount == D("7407.00000000")


def test_a_ticket_in_dollars_is_walked_as_that_many_dollars_of_the_asset():
    b = book("spot:BTC/USDT", asks=[ad(95100, "0.02")], bids=[ad(94900, "0.02")])
    [q] = reference(b, [D(950)], D(95000), NOW, stale_after=10).sizes
    assert q.quantity == D("0.01")  # 950 USD at 95000 USD per BTC
    assert (q.effective_ask, q.effective_bid) == (D(95100), D(94900))


def test_a_book_exactly_as_old_as_the_limit_is_still_fresh():
    b = book("p2p:USDT/VES", asks=[ad(101, 3)], bids=[ad(99, 3)], fetched_at=NOW)
    assert not reference(b, [], D(1), NOW + timedelta(seconds=10), stale_after=10).stale
    later = NOW + timedelta(seconds=10, microseconds=1)
    assert reference(b, [], D(1), later, stale_after=10).stale


def test_depth_counts_ads_exactly_one_percent_from_best_on_either_side():
    assert depth_within((ad(100, 1), ad(101, 2), ad("101.01", 4))) == D(3)  # asks
    assert depth_within((ad(100, 1), ad(99, 2), ad("98.99", 4))) == D(3)  # bids


def test_an_asset_is_valued_at_its_spot_usdt_mid_and_not_at_all_on_a_one_sided_book():
    spot = book("spot:BTC/USDT", asks=[ad(96000, 1)], bids=[ad(94000, 1)])
    assert prices.usd_per_asset("BTC", {spot.market.key: spot}) == D(95000)
    one_sided = book("spot:BTC/USDT", asks=[ad(96000, 1)])
    assert prices.usd_per_asset("BTC", {spot.market.key: one_sided}) is None
    assert prices.usd_per_asset("USDT", {}) == D(1)


def test_the_board_says_stale_when_the_last_poll_failed_and_rounds_the_spread_to_4_places():
    b = book("p2p:USDT/VES", asks=[ad(301, 3)], bids=[ad(300, 3)])
    ref = reference(b, [], D(1), NOW, stale_after=10)
    fresh = prices.as_json(b.market.key, ref)
    assert (fresh["stale"], fresh["spread_pct"]) == (False, "0.3328")  # 1 / 300.5
    failed = prices.as_json(b.market.key, ref, "HTTP 503 from Binance")
    assert (failed["stale"], failed["error"]) == (True, "HTTP 503 from Binance")


def test_a_fiat_budget_pays_only_for_whole_quantity_steps_of_an_ad():
    # 10.005 USDT at 100 VES: one order takes 10.00 USDT for 1000.00 VES, not 1000.50
    fill = walk_amount((ad(100, "10.005"),), D(2000), precision=P2P)
    assert (fill.quantity, fill.amount) == (D("10.00"), D("1000.00"))


def test_a_slice_of_exactly_one_quantity_step_is_taken():
    fill = walk((ad(320, 10),), D("0.01"), precision=P2P)
    assert fill.complete and (fill.quantity, fill.amount) == (D("0.01"), D("3.20"))


def test_an_order_exactly_at_the_ads_minimum_is_taken():
    asks = (ad(100, 50, min_amount=300, ad_no="min"), ad(105, 50, ad_no="dear"))
    assert walk(asks, D(3)).takes == (("min", D(100), D(3)),)  # 3 x 100 = the 300 minimum


def test_a_size_with_one_whole_quantity_step_unfilled_is_not_complete():
    assert not walk((ad(320, 10),), D("10.01"), precision=P2P).complete


def test_a_size_filled_to_less_than_one_quantity_step_is_complete():
    # 10.005 USDT cannot be ordered: 10.00 is the whole ticket in cent steps
    fill = walk((ad(320, 100),), D("10.005"), precision=P2P)
    assert fill.complete and (fill.quantity, fill.amount) == (D("10.00"), D("3200.00"))


def test_a_fiat_budget_only_pays_ads_that_accept_the_payment_method():
    asks = (ad(99, 5, methods=("Zelle",)), ad(100, 5, methods=("Banesco",)))
    fill = walk_amount(asks, D(200), method="Banesco")
    assert (fill.quantity, fill.amount) == (D(2), D(200))


def test_a_fiat_budget_is_spent_in_whole_cents():
    # 3200.005 VES: the order pays 3200.00 for 10.00 USDT, the half cent is below a step
    fill = walk_amount((ad(320, 100),), D("3200.005"), precision=P2P)
    assert fill.complete and (fill.quantity, fill.amount) == (D("10.00"), D("3200.00"))


def test_a_fiat_budget_exactly_at_the_ads_minimum_is_spent():
    fill = walk_amount((ad(100, 50, min_amount=300),), D(300))
    assert fill.complete and (fill.quantity, fill.amount) == (D(3), D(300))


def test_the_last_whole_cent_of_a_budget_is_spent_on_the_next_ad():
    # USDT/USD at par: the first ad takes 10.00 USD, the next one the last 0.01 USD
    asks = (ad(1, 10, ad_no="a"), ad(1, 10, ad_no="b"))
    fill = walk_amount(asks, D("10.01"), precision=P2P)
    assert fill.complete and (fill.quantity, fill.amount) == (D("10.01"), D("10.01"))


def test_an_ad_that_names_no_payment_method_takes_any():
    fill = walk((ad(100, 5, methods=()),), D(2), method="Banesco")
    assert fill.complete and fill.amount == D(200)


def test_a_book_keeps_every_ads_limits_through_its_stored_form():
    b = book("p2p:USDT/VES", asks=[ad(320, 10, min_amount=500, max_amount=2000)])
    assert Book.from_dict(b.to_dict()) == b


def test_a_book_stamped_in_the_future_is_zero_seconds_old():
    b = book("p2p:USDT/VES", fetched_at=NOW + timedelta(seconds=3))
    assert b.age_seconds(NOW) == 0.0


def test_exact_precision_keeps_amounts_to_the_display_step():
    ves = Market.parse("p2p:USDT/VES")
    assert (EXACT.step(ves, "USDT"), EXACT.step(ves, "VES")) == (D("1e-12"), D("1e-12"))
