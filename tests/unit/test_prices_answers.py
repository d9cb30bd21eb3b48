"""The Prices refresh answered from the bytes kept in front of Dash's dispatch: a repeat
within the same second costs no callback, yet every request is still authenticated and
checked, and nothing made for another language, role, second, book or poll is given."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from backend.market import ingest
from backend.market.book import Market
from backend.market.simulator import Simulator
from backend.models import LatestBook
from backend.web import tokens
from bench.prices import CALLBACK
from dashboard.access import BadInput
from dashboard.pages import prices
from tests.conftest import api_client
from tests.factories import NOW

VES = Market.parse("p2p:USDT/VES")
BODY = json.dumps(CALLBACK)


def store(desk, at, seed=1):
    with desk.sessions.begin() as session:
        book = Simulator(seed=seed, clock=lambda: at).fetch(VES).sorted()
        ingest.store(session, desk.cache, desk.settings, book, at)


def post(client, body=BODY, **headers):
    return client.post(
        "/_dash-update-component",
        data=body,
        headers={"Content-Type": "application/json", **headers},
    )


def ves(response) -> dict:
    assert response.status_code == 200, response.text[:300]
    rows = response.json["response"]["prices-grid"]["rowData"]
    return next(r for r in rows if r["market"] == VES.key)


@pytest.fixture
def made(desk, monkeypatch):
    """Each answer the callback made (the kept ones are not made again)."""
    calls, real = [], prices.answer
    monkeypatch.setattr(prices, "answer", lambda *a: calls.append(a) or real(*a))
    clock = [NOW]
    desk.now = lambda: clock[0]
    store(desk, NOW)
    return calls, clock


def test_a_repeat_within_the_same_second_is_the_same_answer_made_once(app, made):
    calls, clock = made
    viewer = api_client(app, "viewer")
    first = post(viewer)
    clock[0] = NOW + timedelta(milliseconds=900)
    again = post(
        viewer, body=BODY.replace('"n_intervals", "value": 1', '"n_intervals", "value": 7')
    )
    assert again.data == first.data and again.content_type == first.content_type
    assert len(calls) == 1  # the tick's count is no part of the answer
    assert ves(again)["age"] == 0


def test_a_new_second_of_age_a_new_book_and_a_failed_poll_show_on_the_next_request(app, desk, made):
    calls, clock = made
    viewer = api_client(app, "viewer")
    post(viewer)
    clock[0] = NOW + timedelta(seconds=1)
    assert ves(post(viewer))["age"] == 1
    store(desk, NOW + timedelta(seconds=1), seed=2)
    new = ves(post(viewer))
    assert new["age"] == 0 and new["age_class"] == "live"
    with desk.sessions.begin() as session:
        session.execute(update(LatestBook).values(error="timeout"))
    failed = ves(post(viewer))
    assert failed["age_class"] == "stale" and "timeout" in failed["age_title"]
    assert len(calls) == 4


def test_another_language_or_role_never_gets_an_answer_made_for_the_first(app, made):
    calls, _ = made
    viewer, trader = api_client(app, "viewer"), api_client(app, "trader")
    english = post(viewer, **{"Accept-Language": "en"})
    spanish = post(viewer, **{"Accept-Language": "es"})
    assert "ticket" in english.json["response"]["prices-hint"]["children"]
    assert (
        spanish.json["response"]["prices-hint"]["children"]
        != (english.json["response"]["prices-hint"]["children"])
    )
    post(trader, **{"Accept-Language": "en"})
    assert len(calls) == 3
    assert post(viewer, **{"Accept-Language": "es"}).data == spanish.data
    assert len(calls) == 3


def test_every_request_is_still_authenticated_and_checked(app, desk, anonymous, made):
    viewer = api_client(app, "viewer")
    assert post(viewer).status_code == 200
    assert post(anonymous).status_code == 401
    with desk.sessions.begin() as session:
        for token in tokens.everyone(session):
            tokens.revoke(session, token.name, actor="tests", now=NOW)
    assert post(viewer).status_code == 401
    assert post(api_client(app, "viewer"), body=BODY[:-1]).status_code == 400


def test_a_refused_answer_is_never_kept(app, made, monkeypatch):
    calls, _ = made
    real, refuse = prices.answer, [True]

    def once_refused(*args):
        if refuse:
            raise BadInput(f"refused once: {refuse.pop()}")
        return real(*args)

    monkeypatch.setattr(prices, "answer", once_refused)
    viewer = api_client(app, "viewer")
    assert post(viewer).status_code == 400
    assert post(viewer).status_code == 200
    assert len(calls) == 1
