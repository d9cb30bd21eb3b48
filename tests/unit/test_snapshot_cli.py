"""``python -m backend market snapshot`` end to end against a local fake of Binance."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest

from backend import create_app
from backend.config import Settings
from backend.market.binance_p2p import SEARCH_PATH

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance_p2p"  # copies of shared/
ASKS = json.loads((FIXTURES / "SELL_10_records_RUB_mixed.json").read_text())


@pytest.fixture
def run(httpserver, tmp_path):
    def invoke(*args: str, **overrides):
        values = {
            "binance_p2p_url": httpserver.url_for("/").rstrip("/"),
            "binance_spot_url": httpserver.url_for("/").rstrip("/"),
            "database_url": f"sqlite:///{tmp_path / 'desk.sqlite3'}",
            "redis_url": None,
            "rabbitmq_url": None,
            "http_retry_backoff_seconds": 0.0,
            "binance_p2p_rate_per_second": 1000.0,
        } | overrides
        app = create_app(Settings(_env_file=None, **values))
        return app.test_cli_runner().invoke(args=["market", "snapshot", *args])

    return invoke


def snapshot(run, *args: str, **overrides) -> dict:
    result = run(
        "--source", "binance", "--asset", "USDT", "--fiat", "RUB", *args, "--json", **overrides
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_buy_walks_the_asks_at_size_as_computed_by_hand(run, httpserver):
    httpserver.expect_request(SEARCH_PATH, method="POST").respond_with_json(ASKS)
    out = snapshot(run, "--side", "BUY", "--size", "300")

    # The cheapest ask, 59.79, has 349.80 tradable and 20914.55 RUB max per order now
    # (349.80 USDT): 300 USDT fit in it, for 17937 RUB, above its 10000 RUB minimum.
    assert out["best_price"] == "59.79"
    assert Decimal(out["effective_price"]) == Decimal("59.79")
    assert out["fillable"] is True
    assert out["side"] == "BUY" and out["source"] == "binance" and out["size"] == "300"
    assert [b["tradeType"] for b in (r.get_json() for r, _ in httpserver.log)] == ["BUY"]


def test_a_ticket_spilling_over_skips_an_ad_whose_minimum_it_cannot_meet(run, httpserver):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)
    out = snapshot(run, "--side", "BUY", "--size", "400")

    # 349.80 at 59.79, then 50.20 left: 59.85 wants at least 5000 RUB (50.20 x 59.85 =
    # 3004.47, too little), so they go to 59.87 (min 2000, max 5000 RUB = 83.51 USDT).
    expected = (
        Decimal("349.80") * Decimal("59.79") + Decimal("50.20") * Decimal("59.87")
    ) / Decimal("400")
    assert Decimal(out["effective_price"]) == expected
    assert out["best_price"] == "59.79" and out["fillable"] is True


def test_json_lists_the_ads_with_decimals_as_strings(run, httpserver):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)
    out = snapshot(run, "--side", "BUY")

    assert out["effective_price"] is None and out["fillable"] is None
    assert len(out["ads"]) == 10
    first = out["ads"][0]
    assert first == {
        "ad_no": "11395350491045543936",
        "price": "59.79",
        "quantity": "349.80",
        "min_amount": "10000.00",
        "max_amount": "20914.55",  # dynamicMaxSingleTransAmount: what one order can take now
        "methods": ["RUBfiatbalance"],
        "advertiser": {
            "nick": "NONSTOPVV",
            "user_type": "user",
            "month_orders": 29,
            "finish_rate": "1.0",
        },
    }
    assert [Decimal(a["price"]) for a in out["ads"]] == sorted(
        Decimal(a["price"]) for a in out["ads"]
    )


def test_sell_requests_only_the_bids_and_lists_them_dearest_first(run, httpserver):
    bids = copy.deepcopy(ASKS)
    for item in bids["data"]:
        item["adv"]["tradeType"] = "BUY"
    httpserver.expect_request(SEARCH_PATH).respond_with_json(bids)
    out = snapshot(run, "--side", "SELL", "--size", "100")

    assert [r.get_json()["tradeType"] for r, _ in httpserver.log] == ["SELL"]
    assert out["best_price"] == "60.20"  # the dearest bid
    # 100 USDT at 60.20 = 6020 RUB, inside that ad's 500-870000 RUB limits.
    assert Decimal(out["effective_price"]) == Decimal("60.20")


def test_an_unfillable_size_says_so(run, httpserver):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(ASKS)
    out = snapshot(run, "--side", "BUY", "--size", "100000")
    assert out["fillable"] is False
    assert Decimal(out["effective_price"]) > Decimal(out["best_price"])


def test_a_rejection_prints_one_line_on_stderr_and_exits_non_zero(run, httpserver):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(
        json.loads((FIXTURES / "fail_method_unavailable.json").read_text())
    )
    result = run("--source", "binance", "--fiat", "RUB", "--json")

    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "UpstreamRejected" in lines[0] and "083932" in lines[0]
    assert "Traceback" not in result.output


def test_an_upstream_outage_is_a_one_line_error(run, httpserver):
    httpserver.expect_request(SEARCH_PATH).respond_with_data(
        "<html>502</html>", status=502, content_type="text/html"
    )
    result = run("--source", "binance", "--fiat", "RUB", http_retry_attempts=2)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: UpstreamHTTPError")
    assert len(httpserver.log) == 2


def test_bad_arguments_are_refused_before_any_request(run, httpserver):
    assert run("--source", "nope").exit_code == 2
    assert run("--source", "binance", "--size", "-5").exit_code == 2
    result = run("--source", "replay")
    assert result.exit_code == 1 and "REPLAY_PATH" in result.stderr
    assert httpserver.log == []


def test_the_simulator_answers_without_any_server(run, httpserver):
    result = run(
        "--source", "simulator", "--fiat", "VES", "--side", "SELL", "--size", "50", "--json"
    )
    out = json.loads(result.stdout)
    prices = [Decimal(a["price"]) for a in out["ads"]]
    assert out["source"] == "simulator" and prices == sorted(prices, reverse=True)
    assert out["best_price"] == str(prices[0])
    assert httpserver.log == []
