"""The spot client against replies in Binance's documented wire format, on a local server."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from backend.config import Settings
from backend.market.binance_p2p import SEARCH_PATH, BinanceP2P
from backend.market.binance_spot import DEPTH_PATH, TICKER_PATH, UPSTREAM, BinanceSpot
from backend.market.book import Market
from backend.market.errors import BadReply, EmptyBook, UpstreamHTTPError, UpstreamRejected

BTC = Market.parse("spot:BTC/USDT")
DEPTH = {
    "lastUpdateId": 1027024,
    "bids": [["96240.01000000", "0.51200000"], ["96239.50000000", "1.20000000"]],
    "asks": [
        ["96240.02000000", "0.00310000"],
        ["96241.00000000", "2.00000000"],
        ["96250.00000000", "4.00000000"],
    ],
}
TICKER = {
    "symbol": "BTCUSDT",
    "bidPrice": "96240.01000000",
    "bidQty": "0.51200000",
    "askPrice": "96240.02000000",
    "askQty": "0.00310000",
}


def make_settings(httpserver, **overrides) -> Settings:
    url = httpserver.url_for("/").rstrip("/")
    values = {
        "binance_spot_url": url,
        "binance_p2p_url": url,
        "redis_url": None,
        "http_retry_backoff_seconds": 0.0,
        "binance_spot_rate_per_second": 1000.0,
        "http_rate_burst": 100,
    } | overrides
    return Settings(_env_file=None, **values)


def spot(httpserver, **overrides) -> BinanceSpot:
    return BinanceSpot(make_settings(httpserver, **overrides))


def test_depth_becomes_decimal_levels_without_limits(httpserver):
    httpserver.expect_request(
        DEPTH_PATH, method="GET", query_string={"symbol": "BTCUSDT", "limit": "20"}
    ).respond_with_json(DEPTH)
    book = spot(httpserver).fetch(BTC)

    assert [a.price for a in book.asks] == [Decimal("96240.02"), Decimal("96241"), Decimal("96250")]
    assert [b.price for b in book.bids] == [Decimal("96240.01"), Decimal("96239.5")]
    assert book.asks[0].quantity == Decimal("0.0031")
    assert all(
        a.min_amount == 0 and a.max_amount is None and a.methods == ()
        for a in book.asks + book.bids
    )
    assert book.source == "binance" and book.market == BTC
    assert len({a.ad_no for a in book.asks + book.bids}) == 5


def test_depth_limit_is_configurable(httpserver):
    httpserver.expect_request(
        DEPTH_PATH, query_string={"symbol": "BTCUSDT", "limit": "5"}
    ).respond_with_json(DEPTH)
    assert len(spot(httpserver, spot_book_depth=5).fetch(BTC).asks) == 3


def test_binance_source_routes_spot_markets_to_the_spot_api(httpserver):
    httpserver.expect_request(DEPTH_PATH).respond_with_json(DEPTH)
    source = BinanceP2P(make_settings(httpserver))
    assert source.fetch_side(BTC, "BUY")[0].price == Decimal("96240.02")
    assert source.fetch_side(BTC, "SELL")[0].price == Decimal("96240.01")
    assert all(r.path == DEPTH_PATH for r, _ in httpserver.log)
    assert SEARCH_PATH not in {r.path for r, _ in httpserver.log}


def test_book_ticker_for_one_symbol(httpserver):
    httpserver.expect_request(TICKER_PATH, query_string={"symbol": "BTCUSDT"}).respond_with_json(
        TICKER
    )
    ticker = spot(httpserver).book_ticker("BTCUSDT")
    assert (ticker.bid, ticker.ask) == (Decimal("96240.01"), Decimal("96240.02"))
    assert (ticker.bid_qty, ticker.ask_qty) == (Decimal("0.512"), Decimal("0.0031"))


def test_book_tickers_for_the_configured_symbols_in_one_request(httpserver):
    brl = TICKER | {"symbol": "USDTBRL", "bidPrice": "5.4610", "askPrice": "5.4620"}
    httpserver.expect_request(TICKER_PATH).respond_with_json([TICKER, brl])
    tickers = spot(httpserver, spot_symbols="BTCUSDT,USDTBRL").book_tickers()

    assert set(tickers) == {"BTCUSDT", "USDTBRL"}
    assert tickers["USDTBRL"].ask == Decimal("5.4620")
    ((request, _),) = httpserver.log
    assert json.loads(request.args["symbols"]) == ["BTCUSDT", "USDTBRL"]


def test_an_empty_side_in_the_ticker_is_none(httpserver):
    httpserver.expect_request(TICKER_PATH).respond_with_json(
        TICKER | {"bidPrice": "0.00000000", "bidQty": "0.00000000"}
    )
    assert spot(httpserver).book_ticker("BTCUSDT").bid is None


def test_invalid_symbol_is_a_rejection(httpserver):
    httpserver.expect_request(DEPTH_PATH).respond_with_json(
        {"code": -1121, "msg": "Invalid symbol."}, status=400
    )
    client = spot(httpserver)
    with pytest.raises(UpstreamRejected) as caught:
        client.fetch(Market.parse("spot:FOO/BAR"))
    assert caught.value.code == "-1121" and "Invalid symbol" in str(caught.value)
    assert client.upstream.breaker.fail_counter == 0


def test_empty_depth_is_an_empty_book(httpserver):
    httpserver.expect_request(DEPTH_PATH).respond_with_json(
        {"lastUpdateId": 1, "bids": [], "asks": []}
    )
    with pytest.raises(EmptyBook):
        spot(httpserver).fetch(BTC)


@pytest.mark.parametrize("body", [{"lastUpdateId": 1}, {"bids": "x", "asks": []}, [1]])
def test_depth_of_the_wrong_shape_is_a_bad_reply(httpserver, body):
    httpserver.expect_request(DEPTH_PATH).respond_with_json(body)
    with pytest.raises(BadReply):
        spot(httpserver).fetch(BTC)


def test_a_bad_level_is_skipped_and_counted(httpserver):
    depth = DEPTH | {
        "asks": [["abc", "1"], ["-5", "1"], ["96241", "0"], ["96242"], ["96243.5", "1.5"]]
    }
    httpserver.expect_request(DEPTH_PATH).respond_with_json(depth)
    before = sum(
        REGISTRY.get_sample_value(
            "market_bad_replies_total", {"upstream": UPSTREAM, "scope": "ad", "reason": r}
        )
        or 0
        for r in ("not_a_number", "non_positive", "bad_shape")
    )
    book = spot(httpserver).fetch(BTC)
    after = sum(
        REGISTRY.get_sample_value(
            "market_bad_replies_total", {"upstream": UPSTREAM, "scope": "ad", "reason": r}
        )
        or 0
        for r in ("not_a_number", "non_positive", "bad_shape")
    )
    assert [a.price for a in book.asks] == [Decimal("96243.5")]
    assert after - before == 4


def test_ip_ban_with_long_retry_after_is_not_retried(httpserver):
    httpserver.expect_request(DEPTH_PATH).respond_with_data(
        "", status=418, headers={"Retry-After": "600"}
    )
    with pytest.raises(UpstreamHTTPError) as caught:
        spot(httpserver).fetch(BTC)
    assert caught.value.reason == "http_418" and len(httpserver.log) == 1


def test_the_tickers_command_prints_best_bid_and_ask_per_watched_symbol(httpserver, tmp_path):
    from tests.conftest import embedded_settings, prepared_app

    httpserver.expect_request(TICKER_PATH).respond_with_json([TICKER])
    app = prepared_app(
        embedded_settings(
            tmp_path, binance_spot_url=httpserver.url_for("/").rstrip("/"), spot_symbols="BTCUSDT"
        )
    )
    result = app.test_cli_runner().invoke(args=["market", "tickers", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["BTCUSDT"] == {
        "bid": "96240.01000000",
        "bid_qty": "0.51200000",
        "ask": "96240.02000000",
        "ask_qty": "0.00310000",
    }
