"""The ingest task on Binance replies from a local server: good polls feed the desk, failing
ones open the breaker and mark the market stale everywhere downstream."""

import json

import pytest
from werkzeug import Response

from backend.market.binance_p2p import SEARCH_PATH
from tasks.arbitrage import scan
from tasks.market import ingest
from tests.conftest import api_client, embedded_settings, prepared_app
from tests.unit.test_binance_p2p import ASKS, as_bids
from tests.unit.test_metrics import sample

MARKET = "p2p:USDT/RUB"


@pytest.fixture
def binance(httpserver):
    """Answers like Binance: asks for tradeType=BUY, bids for SELL, until told to fail."""
    state = {"fail": False, "reply": None}

    def handler(request):
        if state["reply"] is not None:  # (body, mimetype, status)
            body, mimetype, status = state["reply"]
            return Response(body, status=status, mimetype=mimetype)
        if state["fail"]:
            return Response("<html>502 Bad Gateway</html>", status=502, mimetype="text/html")
        side = json.loads(request.data)["tradeType"]
        return Response(
            json.dumps(ASKS if side == "BUY" else as_bids(ASKS)), mimetype="application/json"
        )

    httpserver.expect_request(SEARCH_PATH, method="POST").respond_with_handler(handler)
    return state


@pytest.fixture
def app(tmp_path, httpserver):
    return prepared_app(
        embedded_settings(
            tmp_path,
            markets=[MARKET],
            market_sources=[f"{MARKET}=binance"],
            binance_p2p_url=httpserver.url_for("").rstrip("/"),
            http_retry_attempts=1,
            breaker_fail_max=2,
            http_rate_burst=100,
            binance_p2p_rate_per_second=1000.0,
        )
    )


def rub(client) -> dict:
    return client.get("/api/v1/prices").json["prices"][0]


def test_a_good_poll_gives_fresh_prices_from_binance(app, binance):
    with app.app_context():
        ingest.run(MARKET)
    price = rub(api_client(app))
    assert price["source"] == "binance" and not price["stale"]
    # asks: cheapest recorded ad; bids: the dearest of the same ads shifted down by 1.5
    assert price["best_ask"] == "59.79" and price["best_bid"] == "58.70"


def test_failing_polls_open_the_breaker_and_the_market_reads_stale(app, binance):
    client = api_client(app)
    with app.app_context():
        ingest.run(MARKET)
        binance["fail"] = True
        for _ in range(3):
            ingest.run(MARKET)  # never raises: logged, counted, recorded
        assert scan.run() == 0
    price = rub(client)
    assert price["stale"]
    assert "circuit breaker is open" in price["error"]
    metrics = client.get("/api/v1/metrics").text
    assert sample(metrics, "circuit_breaker_state", upstream="binance_p2p") == 2
    assert sample(metrics, "market_ingest_errors_total", market=MARKET) >= 3
    assert sample(metrics, "market_data_stale", market=MARKET) == 1


def _entry(**changes) -> dict:
    """The recorded first ad, changed: ``adv``/``advertiser`` None drops that object."""
    item = json.loads(json.dumps(ASKS["data"][0]))
    for key, value in changes.items():
        if key in ("adv", "advertiser") and value is None:
            del item[key]
        else:
            item["adv"][key] = value
    return item


def _reply(*entries, **envelope) -> str:
    return json.dumps({"code": "000000", "data": list(entries), "total": 1, "success": True}
                      | envelope)  # fmt: skip


JSON = "application/json"
UNSEEN_REPLIES = {
    "no data": (json.dumps({"code": "000000", "success": True}), JSON, 200, "not a list"),
    "data null": (_reply(data=None), JSON, 200, "data is not a list: None"),
    "ad without adv": (_reply(_entry(adv=None)), JSON, 200, "not one is valid"),
    "ad without advertiser": (_reply(_entry(advertiser=None)), JSON, 200, "not one is valid"),
    "no payment method": (_reply(_entry(tradeMethods=[])), JSON, 200, "not one is valid"),
    "methods without identifier": (
        _reply(_entry(tradeMethods=[{"payType": "X"}, "Sber"])), JSON, 200, "not one is valid",
    ),
    "price with a comma": (_reply(_entry(price="1,234.56")), JSON, 200, "not one is valid"),
    "price with a decimal comma": (_reply(_entry(price="59,79")), JSON, 200, "not one is valid"),
    "success false": (
        json.dumps({"code": "000002", "message": "illegal parameter", "data": None,
                    "success": False}),
        JSON, 200, "illegal parameter",
    ),
    "code 000002 beside success": (_reply(code="000002", message="illegal"), JSON, 200, "000002"),
    "code -1000 beside success": (_reply(code="-1000", data=None), JSON, 200, "-1000"),
    "numeric code": (_reply(code=-1000), JSON, 200, "-1000"),
    "html page": ("<!DOCTYPE html><html>Access Denied</html>", "text/html", 200, "HTML"),
    "html 503": ("<html>503 Service Temporarily Unavailable</html>", "text/html", 503, "503"),
    "truncated json": (_reply(_entry())[:-40], JSON, 200, "JSON"),
    "empty body": ("", JSON, 200, "JSON"),
}  # fmt: skip


@pytest.mark.parametrize("name", UNSEEN_REPLIES)
def test_a_reply_never_seen_fails_the_poll_clearly_and_keeps_the_last_good_price(
    app, binance, name
):
    """Whatever Binance answers, ingest neither crashes nor stores a price it did not send."""
    body, mimetype, status, said = UNSEEN_REPLIES[name]
    client = api_client(app)
    with app.app_context():
        ingest.run(MARKET)
        before = sample(client.get("/api/v1/metrics").text, "market_ingest_errors_total",
                        market=MARKET) or 0  # fmt: skip
        binance["reply"] = (body, mimetype, status)
        ingest.run(MARKET)  # never raises
    price = rub(client)
    assert price["stale"] and said.lower() in price["error"].lower()
    assert (price["best_ask"], price["best_bid"]) == ("59.79", "58.70")  # the last good poll
    metrics = client.get("/api/v1/metrics").text
    assert sample(metrics, "market_ingest_errors_total", market=MARKET) == before + 1


def test_an_ad_with_unknown_methods_is_kept_for_them_only(app, binance):
    """A method the desk does not know is never read as one it does."""
    from backend.market.binance_p2p import parse_page

    page = parse_page(json.loads(_reply(_entry(tradeMethods=[{"identifier": "NewBank9"}]))), "BUY")
    (ad,) = page.ads
    assert ad.methods == ("NewBank9",) and not ad.accepts("Tinkoff") and ad.accepts("NewBank9")
