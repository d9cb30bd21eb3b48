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
    state = {"fail": False}

    def handler(request):
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
