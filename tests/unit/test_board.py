"""The Prices board is computed when a book lands: every ticket size, overall and per
payment method, with a sparkline; readers add only age and staleness."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from backend.market import board, ingest
from tests.conftest import embedded_settings, prepared_app
from tests.factories import NOW, ad, book

VES = book(
    "p2p:USDT/VES",
    asks=[
        ad("36.50", "10", methods=("Banesco",)),
        ad("36.60", "100", methods=("Mercantil",)),
        ad("36.80", "1000", methods=("Banesco", "Mercantil")),
    ],
    bids=[ad("36.20", "20", methods=("Mercantil",)), ad("36.00", "500", methods=("Banesco",))],
)


def test_each_ticket_size_is_walked_once_overall_and_per_payment_method():
    row = board.entry(VES, [Decimal("100"), Decimal("5000")], Decimal("1"), NOW, [])
    assert (row["best_bid"], row["best_ask"]) == ("36.20", "36.50")
    at_100 = row["sizes"][0]
    # 10 at 36.50, 90 at 36.60: 365 + 3294 = 3659 VES for 100 USDT
    assert Decimal(at_100["effective_ask"]) == Decimal("36.59")
    assert at_100["ask_fillable"] and not row["sizes"][1]["ask_fillable"]
    methods = {m["method"]: m for m in row["methods"]}
    assert set(methods) == {"Banesco", "Mercantil"}
    banesco = methods["Banesco"]
    assert (banesco["best_bid"], banesco["best_ask"]) == ("36.00", "36.50")
    # Banesco skips the Mercantil-only ad: 10 at 36.50, 90 at 36.80 = 3677 VES
    assert Decimal(banesco["sizes"][0]["effective_ask"]) == Decimal("36.77")
    assert methods["Mercantil"]["best_ask"] == "36.60"


def test_an_asset_without_a_dollar_value_gets_best_prices_but_no_sizes():
    row = board.entry(VES, [Decimal("100")], None, NOW, [])
    assert row["best_ask"] == "36.50" and row["sizes"] == []


def test_the_sparkline_ends_with_this_books_mid():
    row = board.entry(VES, [], Decimal("1"), NOW, [Decimal("36.1"), Decimal("36.2")])
    assert row["sparkline"] == ["36.1", "36.2", "36.35"]


def test_readers_get_the_stored_board_with_its_age_and_staleness(tmp_path):
    app = prepared_app(embedded_settings(tmp_path, markets="p2p:USDT/VES,p2p:USDT/COP"))
    desk = app.extensions["desk"]
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, VES, NOW)
    later = NOW + timedelta(seconds=desk.settings.stale_after_seconds + 1)
    with desk.sessions() as session:
        fresh = board.read(session, desk.settings, NOW + timedelta(seconds=2))
        old = board.read(session, desk.settings, later)
    ves, cop = fresh
    assert ves["market"] == "p2p:USDT/VES" and ves["best_ask"] == "36.50"
    assert (ves["age_seconds"], ves["stale"]) == (2.0, False)
    assert ves["sparkline"] == ["36.35"]
    assert [m["method"] for m in ves["methods"]] == ["Banesco", "Mercantil"]
    assert old[0]["stale"] is True
    assert cop["best_bid"] is None and cop["stale"] is True and cop["methods"] == []


def test_a_board_exactly_as_old_as_the_limit_is_still_fresh(tmp_path):
    """As the executor trusts a book: ``STALE_AFTER_SECONDS`` old is fresh, a microsecond
    more is stale."""
    app = prepared_app(embedded_settings(tmp_path, markets="p2p:USDT/VES"))
    desk = app.extensions["desk"]
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, VES, NOW)
    at_limit = NOW + timedelta(seconds=desk.settings.stale_after_seconds)
    with desk.sessions() as session:
        [fresh] = board.read(session, desk.settings, at_limit)
        [stale] = board.read(session, desk.settings, at_limit + timedelta(microseconds=1))
    assert (fresh["age_seconds"], fresh["stale"]) == (desk.settings.stale_after_seconds, False)
    assert stale["stale"] is True


def test_a_reader_parses_each_board_once_per_ingest(tmp_path):
    app = prepared_app(embedded_settings(tmp_path, markets="p2p:USDT/VES"))
    desk = app.extensions["desk"]
    boards = board.Boards()
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, VES, NOW)
    with desk.sessions() as session:
        first = board.read(session, desk.settings, NOW, boards)[0]
        boards.rows["p2p:USDT/VES"].row["best_ask"] = "kept"  # what this process parsed
        assert board.read(session, desk.settings, NOW, boards)[0]["best_ask"] == "kept"
    later = replace(VES, fetched_at=NOW + timedelta(seconds=1))
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, later, NOW)
    with desk.sessions() as session:
        again = board.read(session, desk.settings, NOW + timedelta(seconds=1), boards)[0]
    assert first["best_ask"] == again["best_ask"] == "36.50"  # a new book: read again


def test_the_sparkline_reads_only_the_last_ticks_even_when_books_were_empty(tmp_path):
    """A bounded read: 29 ticks back, empty books included (they leave a gap), never a
    walk through the whole history looking for 29 mids."""
    app = prepared_app(embedded_settings(tmp_path, markets="p2p:USDT/VES"))
    desk = app.extensions["desk"]
    polls = [VES] * 3 + [replace(VES, asks=(), bids=())] * 27 + [VES]
    for n, b in enumerate(polls):
        at = NOW + timedelta(seconds=2 * n)
        with desk.sessions.begin() as session:
            ingest.store(session, desk.cache, desk.settings, replace(b, fetched_at=at), at)
    with desk.sessions() as session:
        mids = board.recent_mids(session, "p2p:USDT/VES")
        assert mids == [Decimal("36.35")] + [None] * 27 + [Decimal("36.35")]
        # stored with the last poll: polls 1-29 and its own mid; poll 0 is out of reach
        assert board.read(session, desk.settings, NOW)[0]["sparkline"] == ["36.35"] * 3


def test_the_sparkline_keeps_the_newest_points():
    history = [Decimal(n) for n in range(40)]
    row = board.entry(VES, [], Decimal("1"), NOW, history)
    assert len(row["sparkline"]) == board.SPARK_POINTS
    assert row["sparkline"][-2:] == ["39", "36.35"] and row["sparkline"][0] == "11"


def test_each_payment_method_has_its_own_depth_on_both_sides():
    row = board.entry(VES, [], Decimal("1"), NOW, [])
    banesco = {m["method"]: m for m in row["methods"]}["Banesco"]
    # asks 10 at 36.50 and 1000 at 36.80 (within 1 % of 36.50); bids 500 at 36.00
    assert (banesco["ask_depth_1pct"], banesco["bid_depth_1pct"]) == ("1010", "500")


def test_the_heads_are_read_again_after_a_commit_here_or_once_the_read_is_old(tmp_path):
    """Every refresh of every viewer asks for the heads; a read answers for
    ``HEADS_FOR_SECONDS`` (less than a push takes to reach a page) unless this process
    committed since. Another process's write is seen once the read is that old."""
    app = prepared_app(embedded_settings(tmp_path, markets="p2p:USDT/VES"))
    desk = app.extensions["desk"]
    clock = [100.0]
    boards = board.Boards(clock=lambda: clock[0])
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, VES, NOW)

    def error():
        return board.lines_now(desk.engine, desk.settings, NOW, boards)[0].error

    assert error() is None
    with desk.engine.begin() as connection:  # a commit in this process: seen at once
        connection.exec_driver_sql("UPDATE latest_books SET error = 'here'")
    assert error() == "here"
    other = sqlite3.connect(desk.settings.database_url.split("///", 1)[1])  # another process
    with other:
        other.execute("UPDATE latest_books SET error = 'elsewhere'")
    other.close()
    clock[0] += board.HEADS_FOR_SECONDS / 2
    assert error() == "here"
    clock[0] += board.HEADS_FOR_SECONDS / 2
    assert error() == "elsewhere"
