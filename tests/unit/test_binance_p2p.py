"""The P2P client against recorded Binance replies served by a local HTTP server."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pybreaker
import pytest
from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer
from werkzeug import Response

from backend import resilience
from backend.config import Settings
from backend.market import filters
from backend.market.binance_p2p import SEARCH_PATH, UPSTREAM, BinanceP2P, parse_page
from backend.market.book import Market
from backend.market.errors import (
    BadReply,
    EmptyBook,
    TransportError,
    UpstreamHTTPError,
    UpstreamRejected,
    UpstreamUnavailable,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance_p2p"  # copies of shared/
RUB = Market.parse("p2p:USDT/RUB")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


ASKS = fixture("SELL_10_records_RUB_mixed.json")  # a tradeType=BUY search: advertisers sell


def as_bids(reply: dict) -> dict:
    """The same ads as a tradeType=SELL search would return them: advertisers who buy."""
    reply = copy.deepcopy(reply)
    for item in reply["data"]:
        item["adv"]["tradeType"] = "BUY"
        item["adv"]["advNo"] = "B" + item["adv"]["advNo"]
        item["adv"]["price"] = str(Decimal(item["adv"]["price"]) - Decimal("1.5"))
    return reply


def page_of(n: int, start: int = 0, total: int = 492, side: str = "SELL") -> dict:
    """A full page of ``n`` distinct ads built from the recorded first one."""
    template = ASKS["data"][0]
    data = []
    for i in range(start, start + n):
        item = copy.deepcopy(template)
        item["adv"].update(advNo=f"AD{i:04d}", tradeType=side, price=f"{60 + i / 100:.2f}")
        data.append(item)
    return {"code": "000000", "data": data, "total": total, "success": True}


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_settings(httpserver, **overrides) -> Settings:
    values = {
        "binance_p2p_url": httpserver.url_for("/").rstrip("/"),
        "binance_spot_url": httpserver.url_for("/").rstrip("/"),
        "redis_url": None,
        "http_retry_backoff_seconds": 0.0,
        "http_read_timeout": 2.0,
        "binance_p2p_rate_per_second": 1000.0,
        "http_rate_burst": 100,
    } | overrides
    return Settings(_env_file=None, **values)


def make_client(httpserver, sleeps, **overrides) -> BinanceP2P:
    settings = make_settings(httpserver, **overrides)
    upstream = resilience.build_upstream(
        UPSTREAM,
        settings.binance_p2p_url,
        settings,
        settings.binance_p2p_rate_per_second,
        sleep=sleeps.append,
    )
    return BinanceP2P(settings, upstream=upstream)


def sent(httpserver) -> list[dict]:
    return [request.get_json() for request, _ in httpserver.log]


def test_recorded_reply_parses_into_decimal_asks_with_advertiser_fields(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH, method="POST").respond_with_json(ASKS)
    ads = make_client(httpserver, sleeps).fetch_side(RUB, "BUY")

    assert [str(a.price) for a in ads] == [x["adv"]["price"] for x in ASKS["data"]]
    first = ads[0]
    assert first.ad_no == "11395350491045543936"
    assert first.price == Decimal("59.79")
    assert first.quantity == Decimal("349.80")  # tradableQuantity, not surplusAmount 350.15
    # maxSingleTransAmount 21000.00, but one order can take only dynamicMax...Amount now
    assert (first.min_amount, first.max_amount) == (Decimal("10000.00"), Decimal("20914.55"))
    assert first.methods == ("RUBfiatbalance",)
    assert ads[2].methods == ("Advcash", "Payeer")
    assert first.advertiser.nick == "NONSTOPVV"
    assert first.advertiser.user_type == "user"
    assert first.advertiser.month_orders == 29
    assert ads[1].advertiser.finish_rate == Decimal("0.991")
    assert all(isinstance(a.price, Decimal) and isinstance(a.quantity, Decimal) for a in ads)


def test_request_body_is_the_documented_one_and_a_short_page_ends_the_book(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH, method="POST").respond_with_json(ASKS)
    make_client(httpserver, sleeps).fetch_side(RUB, "BUY")

    assert sent(httpserver) == [
        {
            "asset": "USDT",
            "fiat": "RUB",
            "tradeType": "BUY",
            "page": 1,
            "rows": 20,
            "payTypes": [],
            "publisherType": None,
            "transAmount": "",
        }
    ]


def test_one_order_never_takes_more_than_the_dynamic_maximum_quantity(httpserver, sleeps):
    reply = copy.deepcopy(ASKS)
    reply["data"][0]["adv"]["tradableQuantity"] = "500.00"
    reply["data"][0]["adv"]["dynamicMaxSingleTransQuantity"] = "83.55"
    httpserver.expect_request(SEARCH_PATH).respond_with_json(reply)
    assert make_client(httpserver, sleeps).fetch_side(RUB, "BUY")[0].quantity == Decimal("83.55")


def test_quantity_falls_back_to_surplus_amount(httpserver, sleeps):
    reply = copy.deepcopy(ASKS)
    del reply["data"][0]["adv"]["tradableQuantity"]
    del reply["data"][0]["adv"]["dynamicMaxSingleTransQuantity"]
    httpserver.expect_request(SEARCH_PATH).respond_with_json(reply)
    ads = make_client(httpserver, sleeps).fetch_side(RUB, "BUY")
    assert ads[0].quantity == Decimal("350.15")


def test_tradetype_buy_yields_asks_and_sell_yields_bids(httpserver, sleeps):
    base = {
        "asset": "USDT",
        "fiat": "RUB",
        "page": 1,
        "rows": 20,
        "payTypes": [],
        "publisherType": None,
        "transAmount": "",
    }
    httpserver.expect_request(SEARCH_PATH, json=base | {"tradeType": "BUY"}).respond_with_json(ASKS)
    httpserver.expect_request(SEARCH_PATH, json=base | {"tradeType": "SELL"}).respond_with_json(
        as_bids(ASKS)
    )
    book = make_client(httpserver, sleeps).fetch(RUB)

    assert {a.ad_no for a in book.asks} == {x["adv"]["advNo"] for x in ASKS["data"]}
    assert all(a.ad_no.startswith("B") for a in book.bids)
    assert book.asks[0].price == Decimal("59.79")  # cheapest ask first
    assert book.bids[0].price == Decimal("58.70")  # dearest bid first
    assert [b.price for b in book.bids] == sorted((b.price for b in book.bids), reverse=True)
    assert book.bids[0].price < book.asks[0].price
    assert book.source == "binance" and book.market == RUB


def test_sell_side_is_walked_dearest_first(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(as_bids(ASKS))
    bids = make_client(httpserver, sleeps).fetch_side(RUB, "SELL")
    assert sent(httpserver)[0]["tradeType"] == "SELL"
    assert [b.price for b in bids] == sorted((b.price for b in bids), reverse=True)


def test_ads_of_the_wrong_side_are_never_stored_as_the_asked_side(httpserver, sleeps):
    # A server answering a tradeType=SELL search with SELL ads (advertisers selling) would
    # put asks into the bid book: every ad is dropped and the reply is rejected.
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)
    before = metric("market_bad_replies_total", upstream=UPSTREAM, scope="ad", reason="wrong_side")
    with pytest.raises(BadReply) as caught:
        make_client(httpserver, sleeps).fetch_side(RUB, "SELL")
    assert caught.value.reason == "no_valid_ad"
    assert (
        metric("market_bad_replies_total", upstream=UPSTREAM, scope="ad", reason="wrong_side")
        - before
        == 10
    )


@pytest.mark.parametrize("field, value", [("asset", "BTC"), ("fiatUnit", "VES")])
def test_ads_of_another_market_are_never_stored_as_the_asked_one(httpserver, sleeps, field, value):
    # A reply for another market (a proxy's cache, a server ignoring the body) would put
    # BTC prices, or VES prices, into the USDT/RUB book: such ads are dropped as well.
    reply = copy.deepcopy(ASKS)
    reply["data"][0]["adv"][field] = value
    httpserver.expect_request(SEARCH_PATH).respond_with_json(reply)
    reason = "wrong_market"
    before = metric("market_bad_replies_total", upstream=UPSTREAM, scope="ad", reason=reason)
    ads = make_client(httpserver, sleeps).fetch_side(RUB, "BUY")
    assert [a.ad_no for a in ads] == [x["adv"]["advNo"] for x in ASKS["data"][1:]]
    after = metric("market_bad_replies_total", upstream=UPSTREAM, scope="ad", reason=reason)
    assert after - before == 1
    for item in reply["data"]:
        item["adv"][field] = value
    with pytest.raises(BadReply) as caught:
        parse_page(reply, "BUY", RUB)
    assert caught.value.reason == "no_valid_ad"


def test_pagination_stops_at_configured_depth(httpserver, sleeps):
    for page in (1, 2):
        httpserver.expect_request(SEARCH_PATH, json=_body(page)).respond_with_json(
            page_of(20, start=(page - 1) * 20)
        )
    ads = make_client(httpserver, sleeps, p2p_book_depth=30).fetch_side(RUB, "BUY")

    assert [b["page"] for b in sent(httpserver)] == [1, 2]
    assert len(ads) == 30
    assert len({a.ad_no for a in ads}) == 30


def test_pagination_stops_at_total(httpserver, sleeps):
    for page in (1, 2, 3):
        httpserver.expect_request(SEARCH_PATH, json=_body(page)).respond_with_json(
            page_of(20, start=(page - 1) * 20, total=40)
        )
    ads = make_client(httpserver, sleeps, p2p_book_depth=50).fetch_side(RUB, "BUY")

    assert [b["page"] for b in sent(httpserver)] == [1, 2]
    assert len(ads) == 40


def test_a_server_repeating_one_page_neither_loops_nor_duplicates(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(page_of(20))
    ads = make_client(httpserver, sleeps, p2p_book_depth=50).fetch_side(RUB, "BUY")

    assert len(sent(httpserver)) == 2
    assert len(ads) == 20 == len({a.ad_no for a in ads})


def _body(page: int, rows: int = 20) -> dict:
    return {
        "asset": "USDT",
        "fiat": "RUB",
        "tradeType": "BUY",
        "page": page,
        "rows": rows,
        "payTypes": [],
        "publisherType": None,
        "transAmount": "",
    }


def test_small_depth_asks_for_fewer_rows(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)
    ads = make_client(httpserver, sleeps, p2p_book_depth=5).fetch_side(RUB, "BUY")
    assert sent(httpserver)[0]["rows"] == 5
    assert len(ads) == 5


# --- bad replies -------------------------------------------------------------------------


def test_success_false_is_a_rejection_with_code_and_message_not_retried(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(
        fixture("fail_method_unavailable.json")
    )
    client = make_client(httpserver, sleeps)
    with pytest.raises(UpstreamRejected) as caught:
        client.fetch_side(RUB, "BUY")
    assert caught.value.code == "083932"
    assert "payment method is unsupported" in str(caught.value)
    assert len(httpserver.log) == 1 and sleeps == []
    assert client.upstream.breaker.fail_counter == 0  # this request's own no (REQUEST_CODES)


def refusal(code: str, success: bool) -> dict:
    return {"code": code, "message": "no", "data": None, "success": success}


@pytest.mark.parametrize(
    "reply",
    [
        refusal("000000", False),  # success:false even with the OK code
        refusal("100001", True),  # success:true but a code other than 000000
        refusal(None, False),
    ],
)
def test_refused_searches_open_the_breaker_after_fail_max_replies(httpserver, sleeps, reply):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(reply)
    client = make_client(httpserver, sleeps, http_retry_attempts=3, breaker_fail_max=3)
    for _ in range(3):
        with pytest.raises(UpstreamRejected):
            client.fetch_side(RUB, "BUY")
    assert client.upstream.breaker.current_state == pybreaker.STATE_OPEN
    assert len(httpserver.log) == 3  # each refusal sent once: a no is not retried
    with pytest.raises(UpstreamUnavailable):
        client.fetch(RUB)
    assert len(httpserver.log) == 3


def test_two_refusals_then_a_good_page_leave_the_breaker_closed(httpserver, sleeps):
    client = make_client(httpserver, sleeps, http_retry_attempts=1, breaker_fail_max=3)
    for _ in range(2):
        httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(refusal("100001", True))
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(ASKS)
    for _ in range(2):
        with pytest.raises(UpstreamRejected):
            client.fetch_side(RUB, "BUY")
    assert len(client.fetch_side(RUB, "BUY")) == 10
    assert client.upstream.breaker.current_state == pybreaker.STATE_CLOSED
    assert client.upstream.breaker.fail_counter == 0


def test_success_true_with_no_ads_is_an_empty_book(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(fixture("fail_with_success_true.json"))
    before = metric("market_bad_replies_total", upstream=UPSTREAM, scope="reply", reason="empty")
    client = make_client(httpserver, sleeps)
    with pytest.raises(EmptyBook):
        client.fetch_side(RUB, "BUY")
    assert len(httpserver.log) == 1
    assert client.upstream.breaker.fail_counter == 0
    assert (
        metric("market_bad_replies_total", upstream=UPSTREAM, scope="reply", reason="empty")
        - before
        == 1
    )


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ('{"code": "000000", "data": [', "application/json", "bad_json"),
        ("", "application/json", "bad_json"),
        ("<!DOCTYPE html><html><body>Access denied</body></html>", "text/html", "html"),
        ("<html>oops</html>", "application/json", "html"),
        ("[1, 2, 3]", "application/json", "bad_shape"),
        ('{"code": "000000", "data": {"a": 1}, "success": true}', "application/json", "bad_shape"),
        ('{"code": "000000", "data": []}', "application/json", "bad_shape"),
    ],
)
def test_malformed_replies_are_bad_replies_that_count_against_the_breaker(
    httpserver, sleeps, body, content_type, reason
):
    httpserver.expect_request(SEARCH_PATH).respond_with_data(body, content_type=content_type)
    client = make_client(httpserver, sleeps)
    before = metric("external_api_errors_total", upstream=UPSTREAM, reason=reason)
    with pytest.raises(BadReply) as caught:
        client.fetch_side(RUB, "BUY")
    assert caught.value.reason == reason
    assert len(httpserver.log) == 1  # not retried: it will not improve in half a second
    assert client.upstream.breaker.fail_counter == 1
    assert metric("external_api_errors_total", upstream=UPSTREAM, reason=reason) - before == 1


def test_an_html_error_status_is_an_http_error(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_data(
        "<html>403 Forbidden</html>", status=403, content_type="text/html"
    )
    with pytest.raises(UpstreamHTTPError) as caught:
        make_client(httpserver, sleeps).fetch_side(RUB, "BUY")
    assert caught.value.status == 403 and caught.value.reason == "http_4xx"
    assert len(httpserver.log) == 1


def test_a_rejection_with_an_error_status_is_still_a_rejection(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(
        fixture("fail_method_unavailable.json"), status=400
    )
    with pytest.raises(UpstreamRejected):
        make_client(httpserver, sleeps).fetch_side(RUB, "BUY")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("price", None, "missing_field"),
        ("price", "abc", "not_a_number"),
        ("price", "NaN", "not_a_number"),
        ("price", "-59.79", "non_positive_price"),
        ("price", "0", "non_positive_price"),
        ("price", True, "not_a_number"),
        ("tradableQuantity", "0.00", "non_positive_quantity"),
        ("minSingleTransAmount", "x", "not_a_number"),
        ("maxSingleTransAmount", "5.00", "bad_limits"),  # below the ad's min of 10000
        ("advNo", None, "missing_field"),
        ("tradeMethods", "Payeer", "bad_shape"),
        # Beyond NUMERIC(38, 18): the insert would fail the whole ingest, or round to 0.
        ("price", "1e400", "out_of_range"),
        ("price", "1" + "0" * 20, "out_of_range"),
        ("price", "1E-22", "out_of_range"),
        ("tradableQuantity", "9" * 60, "out_of_range"),
        # Decimal() reads these as 1000 and 12; Binance never sends them for a price.
        ("price", "1_000", "not_a_number"),
        ("price", "\u0661\u0662", "not_a_number"),
    ],
)
def test_one_malformed_ad_is_skipped_and_counted_the_rest_kept(
    httpserver, sleeps, field, value, reason
):
    reply = copy.deepcopy(ASKS)
    if value is None:
        del reply["data"][0]["adv"][field]
    else:
        reply["data"][0]["adv"][field] = value
    httpserver.expect_request(SEARCH_PATH).respond_with_json(reply)
    before = metric("market_bad_replies_total", upstream=UPSTREAM, scope="ad", reason=reason)

    ads = make_client(httpserver, sleeps).fetch_side(RUB, "BUY")

    assert len(ads) == 9
    assert "11395350491045543936" not in {a.ad_no for a in ads}
    assert (
        metric("market_bad_replies_total", upstream=UPSTREAM, scope="ad", reason=reason) - before
        == 1
    )


def test_an_entry_without_adv_is_skipped(httpserver, sleeps):
    reply = copy.deepcopy(ASKS)
    reply["data"].insert(0, {"advertiser": {}})
    reply["data"].insert(1, "not an object")
    httpserver.expect_request(SEARCH_PATH).respond_with_json(reply)
    assert len(make_client(httpserver, sleeps).fetch_side(RUB, "BUY")) == 10


def test_missing_advertiser_stats_read_as_worst_case(httpserver, sleeps):
    reply = copy.deepcopy(ASKS)
    for key in ("monthFinishRate", "monthOrderCount"):
        del reply["data"][0]["advertiser"][key]
    httpserver.expect_request(SEARCH_PATH).respond_with_json(reply)
    first = make_client(httpserver, sleeps).fetch_side(RUB, "BUY")[0]
    assert (first.advertiser.finish_rate, first.advertiser.month_orders) == (0, 0)


def test_every_ad_malformed_is_a_bad_reply():
    reply = copy.deepcopy(ASKS)
    for item in reply["data"]:
        item["adv"]["price"] = "-1"
    with pytest.raises(BadReply) as caught:
        parse_page(reply, "BUY")
    assert caught.value.reason == "no_valid_ad"


def test_a_failing_second_side_fails_the_whole_book(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH, json=_body(1)).respond_with_json(ASKS)
    httpserver.expect_request(SEARCH_PATH).respond_with_json(fixture("fail_with_success_true.json"))
    with pytest.raises(EmptyBook):
        make_client(httpserver, sleeps).fetch(RUB)


# --- retries and breaker over HTTP ----------------------------------------------------------


def test_5xx_is_retried_then_succeeds(httpserver, sleeps):
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_data("busy", status=502)
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(ASKS)
    ads = make_client(httpserver, sleeps, http_retry_attempts=3).fetch_side(RUB, "BUY")
    assert len(ads) == 10 and len(httpserver.log) == 3 and len(sleeps) == 2


def test_429_waits_what_retry_after_says(httpserver, sleeps):
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "0.25"})
    )
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(ASKS)
    client = make_client(httpserver, sleeps, http_retry_backoff_seconds=5.0)
    assert len(client.fetch_side(RUB, "BUY")) == 10
    assert sleeps == [0.25]


def test_retry_after_beyond_the_max_wait_gives_up_at_once(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_response(
        Response("banned", status=429, headers={"Retry-After": "120"})
    )
    with pytest.raises(UpstreamHTTPError) as caught:
        make_client(httpserver, sleeps, http_retry_max_wait_seconds=10).fetch_side(RUB, "BUY")
    assert caught.value.status == 429 and caught.value.retry_after == 120
    assert len(httpserver.log) == 1 and sleeps == []


def test_read_timeout_is_retried_and_reported(httpserver, sleeps):
    def slow(request):
        time.sleep(0.3)  # the server outlasts the client's read timeout; not an assertion
        return Response(json.dumps(ASKS), content_type="application/json")

    httpserver.expect_request(SEARCH_PATH).respond_with_handler(slow)
    client = make_client(httpserver, sleeps, http_read_timeout=0.05, http_retry_attempts=2)
    with pytest.raises(TransportError) as caught:
        client.fetch_side(RUB, "BUY")
    assert caught.value.reason == "timeout"
    assert len(sleeps) == 1


def test_a_reply_trickled_inside_the_read_timeout_still_times_out(httpserver, sleeps):
    """The read timeout bounds each read, not the reply: a server (or proxy) sending a
    piece just inside it held the ingest for as long as it liked, and the book that came
    out was stamped fresh when it was as old as its first byte. The whole reply gets the
    connect and read timeouts added up."""
    text = json.dumps(ASKS).encode()
    pieces = [text[i : i + 1000] for i in range(0, len(text), 1000)]

    def trickle(request):
        def body():
            for piece in pieces:
                time.sleep(0.2)  # each inside the 0.5 s read timeout; 8 s for the reply
                yield piece

        return Response(body(), content_type="application/json")

    server = HTTPServer(threaded=True)  # its own: the shared one may still be busy
    server.expect_request(SEARCH_PATH).respond_with_handler(trickle)
    server.start()
    try:
        client = make_client(
            server, sleeps, http_connect_timeout=0.5, http_read_timeout=0.5, http_retry_attempts=1
        )
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            client.fetch_side(RUB, "BUY")
        assert caught.value.reason == "timeout" and "within 1 s" in str(caught.value)
        assert time.monotonic() - started < 2
    finally:
        server.clear()
        server.stop()


def test_connection_refused_is_retried_then_reported(sleeps):
    settings = Settings(
        _env_file=None,
        binance_p2p_url="http://127.0.0.1:9",
        redis_url=None,
        http_retry_backoff_seconds=0.0,
        http_retry_attempts=3,
    )
    upstream = resilience.build_upstream(
        UPSTREAM, settings.binance_p2p_url, settings, 1000, sleep=sleeps.append
    )
    with pytest.raises(TransportError) as caught:
        BinanceP2P(settings, upstream=upstream).fetch_side(RUB, "BUY")
    assert caught.value.reason == "connection"
    assert len(sleeps) == 2


def test_open_breaker_fails_fast_without_a_request(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_data("down", status=500)
    client = make_client(httpserver, sleeps, http_retry_attempts=1, breaker_fail_max=2)
    for _ in range(2):
        with pytest.raises(UpstreamHTTPError):
            client.fetch_side(RUB, "BUY")
    requests_so_far = len(httpserver.log)

    with pytest.raises(UpstreamUnavailable) as caught:
        client.fetch(RUB)
    assert "circuit breaker is open" in str(caught.value)
    assert len(httpserver.log) == requests_so_far


def test_make_source_shares_one_breaker_per_upstream_across_sources(httpserver):
    from backend.market.sources import make_source

    settings = make_settings(httpserver)
    first, second = make_source("binance", settings), make_source("binance", settings)
    assert first.upstream is second.upstream
    assert first.upstream.breaker is second.upstream.breaker


# --- filters -----------------------------------------------------------------------------------


def test_desk_filters_go_into_the_request_and_are_applied_locally(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)  # ignores the filters
    client = make_client(
        httpserver, sleeps, payment_methods="RUB=payeer", p2p_trans_amount="RUB=5000"
    )
    ads = client.fetch_side(RUB, "BUY")

    body = sent(httpserver)[0]
    assert body["payTypes"] == ["payeer"] and body["transAmount"] == "5000"
    assert {a.methods for a in ads} == {("Payeer",)}  # Advcash narrowed away
    assert all(a.min_amount <= 5000 <= a.max_amount for a in ads)
    assert [str(a.price) for a in ads] == ["59.85", "59.87", "60.19", "60.20"]


def test_merchant_only_sends_publisher_type_and_drops_users(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)
    ads = make_client(httpserver, sleeps, merchant_only=True).fetch_side(RUB, "BUY")
    assert sent(httpserver)[0]["publisherType"] == "merchant"
    assert ads == ()  # the recorded book has users only


def test_completion_rate_and_monthly_orders_filter(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)
    ads = make_client(httpserver, sleeps, min_finish_rate="0.99", min_month_orders=100).fetch_side(
        RUB, "BUY"
    )
    assert all(a.advertiser.finish_rate >= Decimal("0.99") for a in ads)
    assert all(a.advertiser.month_orders >= 100 for a in ads)
    assert [a.advertiser.month_orders for a in ads] == [323, 442, 264, 110, 120]


def test_default_rules_admit_everything_unchanged(httpserver, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)
    ads = make_client(httpserver, sleeps).fetch_side(RUB, "BUY")
    assert filters.apply(ads, filters.rules_for(make_settings(httpserver), "RUB")) is ads


def test_exponent_notation_and_json_numbers_parse_to_the_exact_price():
    reply = copy.deepcopy(ASKS)
    reply["data"][0]["adv"]["price"] = "5.979E+1"
    reply["data"][1]["adv"]["price"] = Decimal("59.85")  # a JSON number, not a string
    ads = parse_page(reply, "BUY").ads
    assert (ads[0].price, ads[1].price) == (Decimal("59.79"), Decimal("59.85"))


def test_a_duplicated_ad_number_is_kept_once_not_counted_twice():
    reply = copy.deepcopy(ASKS)
    reply["data"].insert(1, copy.deepcopy(reply["data"][0]))
    before = metric("market_bad_replies_total", upstream=UPSTREAM, scope="ad", reason="duplicate")
    page = parse_page(reply, "BUY")
    assert [a.ad_no for a in page.ads].count("11395350491045543936") == 1
    assert sum(a.quantity for a in page.ads if a.ad_no == "11395350491045543936") == Decimal(
        "349.80"
    )
    assert len(page.ads) == 10
    assert (
        metric("market_bad_replies_total", upstream=UPSTREAM, scope="ad", reason="duplicate")
        - before
        == 1
    )


@pytest.mark.parametrize(
    "total", [Decimal("NaN"), Decimal("Infinity"), Decimal("4.5"), "492", True]
)
def test_a_total_that_is_no_whole_count_is_ignored_not_a_crash(total):
    reply = copy.deepcopy(ASKS)
    reply["total"] = total
    page = parse_page(reply, "BUY")
    assert page.total is None and len(page.ads) == 10


def test_a_non_ok_code_beside_success_true_is_a_rejection():
    reply = copy.deepcopy(ASKS)
    reply["code"] = "100001"
    reply["message"] = "system busy"
    with pytest.raises(UpstreamRejected) as caught:
        parse_page(reply, "BUY")
    assert caught.value.code == "100001"
    assert caught.value.upstream_message == "system busy"


def test_a_one_megabyte_reply_of_garbage_ads_is_a_bad_reply_not_a_crash(httpserver, sleeps):
    reply = copy.deepcopy(ASKS)
    reply["data"] = [{"adv": {"advNo": str(i), "price": "x" * 1000}} for i in range(1000)]
    body = json.dumps(reply)
    assert len(body) > 1_000_000
    httpserver.expect_request(SEARCH_PATH).respond_with_data(body, content_type="application/json")
    with pytest.raises(BadReply) as caught:
        make_client(httpserver, sleeps).fetch_side(RUB, "BUY")
    assert caught.value.reason == "no_valid_ad"


@pytest.mark.parametrize(
    "reply",
    [
        {"success": False, "code": "100001", "message": "system busy", "data": None},
        {"success": False, "message": "no code at all"},
        {"success": True, "code": "000002", "message": "illegal parameter", "data": []},
    ],
)
def test_a_rejection_that_is_not_the_requests_own_counts_against_the_breaker(
    httpserver, sleeps, reply
):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(reply)
    client = make_client(httpserver, sleeps)
    for _ in range(2):
        with pytest.raises(UpstreamRejected) as caught:
            client.fetch_side(RUB, "BUY")
    assert caught.value.breaker_failure and sleeps == []
    assert client.upstream.breaker.fail_counter == 2


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        ("adv", "advNo", "1" * 41),  # ad_snapshots.ad_no is VARCHAR(40)
        ("advertiser", "monthOrderCount", 2**31),  # month_orders is INTEGER
        ("advertiser", "monthOrderCount", "-3"),
    ],
)
def test_an_ad_the_snapshot_columns_cannot_hold_is_skipped(where, field, value):
    reply = copy.deepcopy(ASKS)
    reply["data"][0][where][field] = value
    page = parse_page(reply, "BUY")
    assert len(page.ads) == 9


def test_a_long_advertiser_type_fits_its_snapshot_column():
    from backend.market.book import Book
    from backend.market.snapshots import COLUMNS, rows

    reply = copy.deepcopy(ASKS)
    reply["data"][0]["advertiser"]["userType"] = "verified_merchant_pro"
    ads = parse_page(reply, "BUY").ads
    book = Book(RUB, ads, (), datetime.now(UTC), "binance")
    stored = [dict(zip(COLUMNS, row, strict=True)) for row in rows(book, None)]
    assert max(len(row["user_type"]) for row in stored) <= 10


def test_an_advertiser_exactly_at_each_minimum_is_admitted_and_just_under_is_not():
    from dataclasses import replace

    from backend.market.book import Advertiser
    from tests.factories import ad

    rules = filters.AdRules(min_finish_rate=Decimal("0.95"), min_month_orders=100)

    def advertiser(rate, orders):
        who = Advertiser(nick="n", user_type="user", month_orders=orders, finish_rate=rate)
        return replace(ad(100, 5), advertiser=who)

    assert filters.admits(advertiser(Decimal("0.95"), 100), rules)
    assert not filters.admits(advertiser(Decimal("0.9499"), 100), rules)
    assert not filters.admits(advertiser(Decimal("0.95"), 99), rules)


def test_merchant_only_admits_merchants_and_nothing_else():
    from dataclasses import replace

    from backend.market.book import Advertiser
    from tests.factories import ad

    rules = filters.AdRules(merchant_only=True)
    for kind, admitted in (("merchant", True), ("user", False), ("pro", False), ("", False)):
        who = Advertiser(nick="n", user_type=kind, month_orders=500)
        assert filters.admits(replace(ad(100, 5), advertiser=who), rules) is admitted, kind
