"""The market page's refresh and the Prices board keep what they built from a book until
the next one: a refresh between two books reads no book, and a new book (or a candle
window that moved on) is on the very next refresh."""

from __future__ import annotations

import json
from datetime import timedelta

from backend.market import ingest, latest
from backend.market.book import Market
from backend.market.simulator import Simulator
from bench.prices import CALLBACK as PRICES
from bench.scale import market_refresh
from tests.conftest import api_client
from tests.factories import NOW

VES = Market.parse("p2p:USDT/VES")


def store(desk, at, seed):
    with desk.sessions.begin() as session:
        book = Simulator(seed=seed, clock=lambda: at).fetch(VES).sorted()
        ingest.store(session, desk.cache, desk.settings, book, at)


def refresh(viewer, minutes="15", body=None):
    r = viewer.post("/_dash-update-component", json=body or market_refresh(VES.key, minutes))
    assert r.status_code == 200, r.text[:300]
    return r.json["response"]


def test_a_refresh_between_two_books_reads_none_and_the_next_book_shows_at_once(
    app, desk, monkeypatch
):
    viewer, clock = api_client(app, "viewer"), [NOW]
    desk.now = lambda: clock[0]
    store(desk, NOW, seed=1)
    first = refresh(viewer)
    reads = []
    real = latest.get
    monkeypatch.setattr(latest, "get", lambda *a: reads.append(a) or real(*a))
    clock[0] = NOW + timedelta(seconds=1)
    again = refresh(viewer)
    assert reads == []  # nothing read but the heads
    assert again["ads-grid"]["rowData"] == first["ads-grid"]["rowData"]
    assert again["market-age"] == {"children": "1 s", "color": "success"}  # the clock moves

    store(desk, NOW + timedelta(minutes=3), seed=2)
    clock[0] = NOW + timedelta(minutes=3, seconds=2)
    reads.clear()  # ingest read the previous book
    new = refresh(viewer)
    assert len(reads) == 1
    assert new["ads-grid"]["rowData"] != first["ads-grid"]["rowData"]
    candles = new["candle-chart"]["figure"]["data"][0]["x"]
    assert len(candles) == len(first["candle-chart"]["figure"]["data"][0]["x"]) + 1


def test_the_candle_window_moves_on_without_a_new_book(app, desk):
    viewer, clock = api_client(app, "viewer"), [NOW]
    desk.now = lambda: clock[0]
    store(desk, NOW - timedelta(minutes=10), seed=1)
    store(desk, NOW, seed=2)
    before = refresh(viewer)["candle-chart"]["figure"]["data"][0]["x"]
    clock[0] = NOW + timedelta(minutes=6)  # the 15-minute window no longer holds the first
    after = refresh(viewer)["candle-chart"]["figure"]["data"][0]["x"]
    assert len(before) == 2 and len(after) == 1
    assert refresh(viewer, "60")["candle-chart"]["figure"]["data"][0]["x"] == before


def test_the_prices_board_answers_the_same_second_alike_and_a_new_book_at_once(app, desk):
    viewer, clock = api_client(app, "viewer"), [NOW]
    desk.now = lambda: clock[0]
    store(desk, NOW, seed=1)
    row = next(
        r for r in refresh(viewer, body=PRICES)["prices-grid"]["rowData"] if r["market"] == VES.key
    )
    clock[0] = NOW + timedelta(milliseconds=400)
    same = next(
        r for r in refresh(viewer, body=PRICES)["prices-grid"]["rowData"] if r["market"] == VES.key
    )
    assert same == row and row["age"] == 0
    store(desk, NOW + timedelta(seconds=5), seed=2)
    clock[0] = NOW + timedelta(seconds=5, milliseconds=400)  # the same age as before
    new = next(
        r for r in refresh(viewer, body=PRICES)["prices-grid"]["rowData"] if r["market"] == VES.key
    )
    assert new["age"] == 0 and new["best_bid"] != row["best_bid"]


def test_a_spot_books_levels_show_no_p2p_columns(app, desk):
    """A spot level has no advertiser, methods, limits or completion: shown, they read as
    dashes, "any", 0 – ∞ and 100 %, things the book never said."""
    from tests.unit.test_desk_pages import component, page_json

    def columns(path):
        grid = component(json.loads(page_json(app, path)), "ads-grid")
        return {c["field"] for c in grid["props"]["columnDefs"]}

    assert columns("/markets/spot/BTC-USDT") == {"side", "price", "quantity"}
    assert {"advertiser", "methods", "finish_rate"} <= columns("/markets/p2p/USDT-VES")
