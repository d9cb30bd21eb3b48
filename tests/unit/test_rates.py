"""Corridor rates, recomputed by hand: buy USDT with the source fiat on its asks, sell it
for the target fiat on its bids, after fees; the client rate keeps the house's margin."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from backend.market import ingest
from backend.market.rates import Corridor, quote
from tests.conftest import api_client
from tests.factories import NOW, ad, book

D = Decimal
COP_VES = Corridor.parse("COP->VES")
BOOKS = {
    # 100 USDT cost 60 x 4000 + 40 x 4010 = 400,400 COP (the cheapest asks first)
    "p2p:USDT/COP": book("p2p:USDT/COP", asks=[ad(4000, 60), ad(4010, 100)], bids=[ad(3990, 500)]),
    # and sell for 50 x 250 + 50 x 249 = 24,950 VES (the dearest bids first)
    "p2p:USDT/VES": book("p2p:USDT/VES", asks=[ad(252, 500)], bids=[ad(250, 50), ad(249, 100)]),
}


def cop_ves(fee="0", margin="0.02", books=BOOKS, stale=frozenset(), size="100", now=NOW):
    return quote(COP_VES, books, set(stale), D(size), D(fee), D(margin), now)


def test_the_implied_rate_is_ves_received_per_cop_spent():
    rate = cop_ves()
    assert rate.implied_rate == D("0.06231268")  # 24,950 / 400,400, rounded down
    assert rate.client_rate == D("0.06106643")  # x (1 - 0.02), rounded down
    assert (rate.buy_price, rate.sell_price) == (D("4004"), D("249.5"))
    assert not rate.stale and rate.reason is None and rate.age_seconds == 0


def test_the_taker_fee_is_paid_on_both_legs():
    rate = cop_ves(fee="0.001")
    # 99.9 USDT reach the VES side: 50 x 250 + 49.9 x 249 = 24,925.1 VES, less 0.1 %
    assert rate.implied_rate == D("0.06218824")  # 24,900.1749 / 400,400
    assert rate.client_rate == D("0.06094448")


def test_the_reverse_corridor_walks_the_other_sides():
    rate = quote(Corridor.parse("VES->COP"), BOOKS, set(), D(100), D(0), D(0), NOW)
    assert rate.implied_rate == D("15.83333333")  # 100 x 3,990 COP / (100 x 252 VES)


def test_rates_are_rounded_in_the_house_s_favour():
    books = BOOKS | {"p2p:USDT/VES": book("p2p:USDT/VES", bids=[ad(2, 1000)])}
    books |= {"p2p:USDT/COP": book("p2p:USDT/COP", asks=[ad(3, 1000)])}
    assert cop_ves(books=books, margin="0").implied_rate == D("0.66666666")  # not ...67


def test_a_book_that_cannot_fill_the_size_gives_no_rate_and_says_why():
    rate = cop_ves(size="200")  # 160 USDT of COP asks
    assert rate.implied_rate is None and rate.client_rate is None
    assert rate.reason == "p2p:USDT/COP asks cannot fill 200 USDT"


def test_bids_that_cannot_take_the_usdt_give_no_rate_and_say_why():
    rate = cop_ves(size="155")  # the COP asks fill 155 USDT; the VES bids take 150
    assert rate.implied_rate is None and rate.client_rate is None
    assert rate.reason == "p2p:USDT/VES bids cannot take 155 USDT"


def test_stale_or_missing_books_make_the_rate_stale():
    stale = cop_ves(stale={"p2p:USDT/VES"})
    assert stale.stale and stale.implied_rate == D("0.06231268")
    assert stale.reason == "stale books: p2p:USDT/VES"
    missing = cop_ves(books={"p2p:USDT/COP": BOOKS["p2p:USDT/COP"]})
    assert missing.stale and missing.reason == "no book for p2p:USDT/VES"
    assert cop_ves(now=NOW + timedelta(seconds=7)).age_seconds == 7
    # the rate is as old as the older of its two books
    newer = replace(BOOKS["p2p:USDT/VES"], fetched_at=NOW + timedelta(seconds=5))
    older_cop = cop_ves(books=BOOKS | {"p2p:USDT/VES": newer}, now=NOW + timedelta(seconds=7))
    assert older_cop.age_seconds == 7


@pytest.mark.parametrize("text", ["COP", "COP->COP", "COP->", "C0P->VES", ""])
def test_a_corridor_must_name_two_currencies(text):
    with pytest.raises(ValueError, match="not of the form COP->VES"):
        Corridor.parse(text)


def test_the_rates_route_quotes_every_corridor_with_its_margin(app, client, desk):
    margin = {"corridor": "COP->VES", "margin": "0.03", "reason": "weekend"}
    admin = api_client(app, "admin")
    assert client.post("/api/v1/rates/margins", json=margin).status_code == 403
    assert admin.post("/api/v1/rates/margins", json=margin | {"margin": "1.5"}).status_code == 422
    assert (
        admin.post("/api/v1/rates/margins", json=margin | {"corridor": "EUR->VES"}).status_code
        == 422
    )
    assert admin.post("/api/v1/rates/margins", json=margin).status_code == 200
    history = admin.get("/api/v1/controls").json["history"][0]
    assert (history["key"], history["to"], history["actor"]) == (
        "corridor_margin:COP->VES",
        "0.03",
        "test-admin",
    )
    now = desk.now()
    with desk.sessions.begin() as session:
        for b in BOOKS.values():
            ingest.store(session, desk.cache, desk.settings, replace(b, fetched_at=now), now)
    rates = {r["corridor"]: r for r in client.get("/api/v1/rates?size=100").json["rates"]}
    assert list(rates) == desk.settings.corridors
    assert rates["COP->VES"] | {"age_seconds": 0} == {
        "corridor": "COP->VES",
        "source": "COP",
        "target": "VES",
        "size_usd": "100",
        "implied_rate": "0.06231268",
        "client_rate": "0.06044330",
        "margin": "0.03",
        "buy_price": "4004",
        "sell_price": "249.5",
        "age_seconds": 0,
        "stale": False,
        "reason": None,
    }
    assert rates["ARS->VES"]["stale"] and rates["ARS->VES"]["implied_rate"] is None
    assert client.get("/api/v1/rates?size=1e9").status_code == 422
    empty = client.get("/api/v1/rates?size=")
    assert (
        empty.status_code == 422
        and empty.json["error"] == 'size must be a number of USD, e.g. "500"'
    )
