"""A recording played through the desk's scan, risk checks and paper executor."""

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest

from backend.market.replay import record_line
from backend.trading.backtest import max_drawdown, reason_key, reason_keys, run
from tests.conftest import embedded_settings
from tests.factories import NOW, ad, book


def ves(at, bid):
    return book(
        "p2p:USDT/VES",
        fetched_at=at,
        asks=[ad(320, 5000, methods=("Banesco",), ad_no="V-ask")],
        bids=[ad(bid, 5000, methods=("Mercantil",), ad_no="V-bid")],
    )


def cop(at):
    return book(
        "p2p:USDT/COP",
        fetched_at=at,
        asks=[ad(3900, 5000, methods=("Nequi",), ad_no="C-ask")],
        bids=[ad(4056, 5000, methods=("Bancolombia",), ad_no="C-bid")],
    )


@pytest.fixture
def recording(tmp_path):
    """VES crossed at 0 s; COP crossed at 0.5 s; VES at 1 s closed (bid 319) ; COP again at 2 s."""
    s = timedelta(seconds=1)
    books = [ves(NOW, 330), cop(NOW + s / 2), ves(NOW + s, 319), cop(NOW + 2 * s)]
    path = tmp_path / "session.jsonl"
    path.write_text("".join(record_line(b, "binance", b.fetched_at) for b in books))
    return path


@pytest.fixture
def settings(tmp_path):
    # no fees or slippage and one ticket size: every amount below is worked out by hand
    return embedded_settings(
        tmp_path,
        ticket_sizes_usd="1000",
        p2p_taker_fee="0",
        transfer_fee="0",
        paper_slippage="0",
        min_profit_usd="0.50",
        ingest_interval_seconds=2,
    )


def test_executed_at_once_each_crossed_book_fills_at_its_own_prices(recording, settings):
    report = run(recording, settings).as_json()
    assert D(report.pop("profit_usd")) == D("71.25")
    assert {k: D(v) for k, v in report.pop("profit_by_strategy").items()} == {
        "crossed_book": D("71.25")
    }
    # VES: 1000 USDT sold at 330 = 330,000 VES, bought back at 320 = 1031.25 USDT.
    # COP (found by the scan at 1 s; the one at 0.5 s is debounced): 4,056,000 COP at
    # 3900 = 1040 USDT. The closed VES book at 1 s lists nothing new.
    assert report == {
        "books": 4,
        "scans": 3,
        "opportunities": 2,
        "trades": 2,
        "fills": 2,
        "rejected": 0,
        "failures": 0,
        "unexecuted": 0,
        "rejections": {},
        "max_drawdown_usd": "0",
        "from": NOW.isoformat(),
        "to": (NOW + timedelta(seconds=2)).isoformat(),
    }


def test_with_a_second_of_latency_the_closed_book_is_refused_by_the_risk_check(recording, settings):
    report = run(recording, settings, latency_seconds=1).as_json()
    # VES found at 0 s, executed at 1 s on bid 319: 319,000 VES / 320 = 996.875 USDT,
    # -3.125 USD, below the 0.50 minimum. COP found at 1 s, filled at 2 s: +40.
    assert (report["trades"], report["fills"], report["rejected"]) == (2, 1, 1)
    assert report["rejections"] == {
        "profit at current books N USD is below the N USD minimum (and must be above zero)": 1
    }
    assert D(report["profit_by_strategy"]["crossed_book"]) == D("40") == D(report["profit_usd"])


def test_the_cli_prints_the_report_as_json(app, recording, settings):
    out = app.test_cli_runner().invoke(args=["backtest", str(recording), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["books"] == 4
    text = app.test_cli_runner().invoke(args=["backtest", str(recording)]).output
    assert "4 books from" in text and "maximum drawdown" in text


def test_the_maximum_drawdown_is_the_largest_fall_from_a_peak():
    assert max_drawdown([D(5), D(-3), D(-4), D(10), D(-1)]) == D(7)
    assert max_drawdown([D(-2), D(1)]) == D(2)
    assert max_drawdown([]) == D(0)


def test_reasons_are_grouped_without_their_numbers():
    assert (
        reason_key("size 5000 USD exceeds the 1000.00 USD limit")
        == "size N USD exceeds the N USD limit"
    )


def test_a_refusal_with_two_reasons_counts_each():
    assert reason_keys("kill switch is on; size 5000 USD exceeds the 1000.00 USD limit") == [
        "kill switch is on",
        "size N USD exceeds the N USD limit",
    ]
    assert reason_keys(None) == reason_keys("") == []
