"""Every route and callback carries an access decision, and each role gets exactly what
it may: anonymous 401 or the login page, viewers read, traders trade, admins steer."""

from __future__ import annotations

import pytest
from flask import jsonify

from backend.web.access import required
from tests.conftest import add_token, add_user, api_client, prepared_app

PAGES = ["/", "/opportunities", "/trades", "/rates", "/risk", "/system", "/markets/p2p/USDT-VES"]
READS = ["/api/v1/prices", "/api/v1/opportunities", "/api/v1/trades", "/api/v1/controls"]


def callback_body(output: str, inputs: list, state: list | None = None, outputs=None) -> dict:
    """What Dash's renderer posts to /_dash-update-component."""
    from dash._utils import split_callback_id

    return {
        "output": output,
        "outputs": outputs if outputs is not None else split_callback_id(output),
        "inputs": inputs,
        "state": state or [],
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"] if inputs else [],
    }


EXECUTE = callback_body(
    "..execute-trade.data...execute-follow.disabled...execute-status.children"
    "...execute-confirm.disabled..",
    [{"id": "execute-confirm", "property": "n_clicks", "value": 1}],
    [
        {"id": "execute-size", "property": "value", "value": "500"},
        {"id": "execute-pending", "property": "data", "value": {"opportunity_id": 1, "key": "k1"}},
    ],
)
PRICES = callback_body(
    "..prices-grid.rowData...price-method.options...prices-hint.children..",
    [
        {"id": "ticket-size", "property": "value", "value": "500"},
        {"id": "price-method", "property": "value", "value": ""},
        {"id": "prices-tick", "property": "n_intervals", "value": 1},
        {"id": "prices-push", "property": "data", "value": '["prices"]'},
    ],
)


def test_every_route_and_callback_has_an_access_decision(app):
    undecided = sorted(
        rule.rule for rule in app.url_map.iter_rules() if required(app, rule.endpoint)[0] is None
    )
    assert undecided == []
    callbacks = set(app.extensions["dash"].callback_map)
    assert callbacks and callbacks - set(app.extensions["callback_access"]) == set()


def test_a_route_added_without_a_decision_is_closed(settings):
    app = prepared_app(settings)
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: jsonify(ok=True))
    r = api_client(app, "admin").get("/api/v1/forgotten")
    assert r.status_code == 403 and "no access decision" in r.json["error"]


@pytest.mark.parametrize("path", READS)
def test_anonymous_json_requests_get_401_json(anonymous, path):
    r = anonymous.get(path)
    assert r.status_code == 401 and "log in" in r.json["error"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_pages_redirect_to_the_login_and_back(anonymous, path):
    r = anonymous.get(path)
    assert r.status_code == 302
    assert r.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", ["/_dash-layout", "/_dash-dependencies"])
def test_anonymous_dash_routes_get_401(anonymous, path):
    assert anonymous.get(path).status_code == 401


def test_an_anonymous_callback_post_gets_401_and_runs_nothing(anonymous):
    r = anonymous.post("/_dash-update-component", json=PRICES)
    assert r.status_code == 401 and r.is_json


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/health/db", "/api/v1/metrics"])
def test_health_and_metrics_stay_public(anonymous, path):
    assert anonymous.get(path).status_code in (200, 503)


def test_the_login_page_and_dash_scripts_are_public(anonymous):
    assert anonymous.get("/login").status_code == 200
    script = "/_dash-component-suites/dash/deps/react@18.3.1.min.js"
    assert anonymous.get(script).status_code == 200


def test_a_viewer_reads_everything_but_may_not_trade_or_steer(app, desk):
    viewer = api_client(app, "viewer")
    for path in READS:
        assert viewer.get(path).status_code == 200, path
    r = viewer.post("/api/v1/trades", json={"opportunity_id": 1}, headers={"Idempotency-Key": "v"})
    assert r.status_code == 403 and "trader role" in r.json["error"]
    r = viewer.post("/api/v1/controls", json={"kill_switch": True, "reason": "x"})
    assert r.status_code == 403 and "admin role" in r.json["error"]


def test_a_viewer_cannot_execute_through_a_hand_crafted_callback(app, desk):
    viewer = api_client(app, "viewer")
    assert viewer.post("/_dash-update-component", json=PRICES).status_code == 200
    r = viewer.post("/_dash-update-component", json=EXECUTE)
    assert r.status_code == 403 and "trader role" in r.json["error"]


def test_a_trader_executes_but_may_not_touch_the_kill_switch(app, opportunity):
    trader = api_client(app, "trader")
    r = trader.post(
        "/api/v1/trades", json={"opportunity_id": opportunity.id}, headers={"Idempotency-Key": "t1"}
    )
    assert r.status_code == 201 and r.json["requested_by"] == "test-trader"
    events = trader.get(f"/api/v1/trades/{r.json['id']}").json["events"]
    assert events[0]["actor"] == "test-trader" and "token" in events[0]["detail"]
    r = trader.post("/api/v1/controls", json={"kill_switch": True, "reason": "x"})
    assert r.status_code == 403


def test_an_admin_pauses_trading_and_the_history_says_who_and_why(app):
    admin = api_client(app, "admin")
    r = admin.post("/api/v1/controls", json={"kill_switch": True, "reason": "bank outage"})
    assert r.status_code == 200 and r.json["controls"]["kill_switch"] == "true"
    change = r.json["history"][0]
    assert change | {"at": None} == {
        "at": None,
        "key": "kill_switch",
        "from": "false",
        "to": "true",
        "actor": "test-admin",
        "reason": "bank outage",
    }


def test_a_bad_control_change_is_refused_and_changes_nothing(app):
    admin = api_client(app, "admin")
    r = admin.post(
        "/api/v1/controls", json={"kill_switch": True, "max_trade_usd": "lots", "reason": "x"}
    )
    assert r.status_code == 422 and "not a plain number" in r.json["error"]
    assert admin.get("/api/v1/controls").json["controls"]["kill_switch"] == "false"
    assert admin.post("/api/v1/controls", json={"kill_switch": True}).status_code == 400


def test_disabled_users_and_revoked_or_expired_tokens_get_401(app, desk):
    from datetime import timedelta

    from backend.web import tokens, users

    add_user(desk, "ana", "trader")
    kept, revoked = add_token(desk, "ana"), add_token(desk, "ana")
    an_hour_ago = desk.now() - timedelta(hours=1)
    with desk.sessions.begin() as session:
        expired = tokens.create(
            session, "short", "ana", timedelta(minutes=1), actor="t", now=an_hour_ago
        )
    client = app.test_client()

    def status(token):
        return client.get(
            "/api/v1/prices", headers={"Authorization": f"Bearer {token}"}
        ).status_code

    assert status(kept) == 200 and status(revoked) == 200
    with desk.sessions.begin() as session:
        for t in tokens.everyone(session):
            if t.token_hash == tokens.digest(revoked):
                tokens.revoke(session, t.name, actor="t", now=desk.now())
    assert (status(kept), status(revoked), status(expired)) == (200, 401, 401)
    assert status("desk_not-a-token") == 401 and status("") == 401
    with desk.sessions.begin() as session:
        users.set_disabled(session, "ana", True, actor="t", now=desk.now())
    assert status(kept) == 401


def test_trade_requests_are_throttled_per_user_with_retry_after(tmp_path):
    from tests.conftest import embedded_settings

    app = prepared_app(embedded_settings(tmp_path, trade_rate_limit="2/minute"))
    trader, other = api_client(app, "trader"), api_client(app, "admin")

    def request(client, key):
        body = {"opportunity_id": 1}
        return client.post("/api/v1/trades", json=body, headers={"Idempotency-Key": key})

    assert [request(trader, f"k{i}").status_code for i in range(3)] == [404, 404, 429]
    r = request(trader, "k3")
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
    assert "too many trade requests" in r.json["error"]
    assert request(other, "k4").status_code == 404  # another user's budget is untouched


def test_without_redis_pages_poll_and_the_stream_says_so(client):
    r = client.get("/api/v1/stream")
    assert r.status_code == 204 and "need Redis" in r.headers["X-Push-Unavailable"]


def test_embedded_throttles_count_without_a_thread_per_hit(monkeypatch):
    """limits' MemoryStorage starts a sweeping timer thread on nearly every hit; the
    embedded default's storage sweeps in the hitting thread, every SWEEP_SECONDS."""
    import threading

    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    from backend.web.throttle_storage import QuietMemoryStorage

    storage = QuietMemoryStorage("desk+memory://")
    storage.timer.join()  # the one MemoryStorage starts when built
    limiter, rate = FixedWindowRateLimiter(storage), parse("2/second")
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    assert [limiter.hit(rate, "trade-requests", "u") for _ in range(3)] == [True, True, False]
    assert started == []
    (counter,) = storage.expirations
    storage.expirations[counter] = 0  # its window is over
    storage.swept -= storage.SWEEP_SECONDS
    assert limiter.hit(rate, "trade-requests", "other")
    assert started == [] and counter not in storage.storage  # swept here, no thread
