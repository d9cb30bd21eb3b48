from datetime import timedelta
from decimal import Decimal

from backend.config import Settings
from backend.market.book import Market
from backend.market.simulator import Simulator
from backend.trading.arbitrage import scan
from backend.trading.execution import Fees
from tests.factories import NOW

MARKETS = [Market.parse(k) for k in Settings(_env_file=None).markets]


def at(seconds: float, seed: int = 7) -> Simulator:
    return Simulator(seed=seed, clock=lambda: NOW + timedelta(seconds=seconds))


def test_same_seed_and_time_give_the_same_book_in_any_process():
    m = Market.parse("p2p:USDT/VES")
    assert at(3).fetch(m) == at(3).fetch(m)
    assert at(3, seed=8).fetch(m) != at(3).fetch(m)


def test_prices_move_between_polls():
    m = Market.parse("p2p:USDT/COP")
    assert at(0).fetch(m).asks[0].price != at(2).fetch(m).asks[0].price


def test_every_market_has_at_least_ten_ads_a_side_shaped_like_binance():
    for m in MARKETS:
        b = at(0).fetch(m)
        assert len(b.asks) >= 10 and len(b.bids) >= 10, m.key
        assert list(b.asks) == sorted(b.asks, key=lambda a: a.price)
        assert list(b.bids) == sorted(b.bids, key=lambda a: a.price, reverse=True)
        for a in (*b.asks, *b.bids):
            assert a.price > 0 and a.quantity > 0
            if m.venue == "p2p":
                assert a.methods and a.advertiser.nick and 0 < a.advertiser.finish_rate <= 1
                assert 0 < a.min_amount < a.max_amount


def test_price_levels_are_realistic():
    mids = {
        m.key: (at(0).fetch(m).asks[0].price + at(0).fetch(m).bids[0].price) / 2 for m in MARKETS
    }
    assert 250 < mids["p2p:USDT/VES"] < 400
    assert 3000 < mids["p2p:USDT/COP"] < 5000
    assert 4 < mids["p2p:USDT/BRL"] < 7
    assert 0.95 < mids["p2p:USDT/USD"] < 1.05
    assert 50000 < mids["spot:BTC/USDT"] < 150000


def test_dislocations_leave_the_opportunities_page_empty_only_briefly():
    fees = Fees(Decimal("0"), Decimal("0.001"), Decimal("0.0005"))
    sizes = [Decimal(x) for x in ("100", "500", "1000", "5000")]
    windows_with_profit = 0
    for window in range(30):  # thirty minutes, one look a minute
        sim = at(window * 60 + 1)
        books = {m.key: sim.fetch(m) for m in MARKETS}
        if scan(books, sizes, fees, Decimal("0.5"), slippage=Decimal("0.0005")):
            windows_with_profit += 1
    assert windows_with_profit >= 20
