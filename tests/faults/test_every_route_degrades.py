"""Every GET route, page, write and callback with each dependency refusing connections
(the server gone) or hung: an answer within its bound, never a 500 or a traceback, 503s
naming what failed, no write claiming to have stored anything without the database; all
200 again once it is back."""

from __future__ import annotations

import time

import pytest
import requests

from tests.faults.test_dependency_faults import wait_until

GETS = [
    "/api/v1/prices", "/api/v1/opportunities", "/api/v1/trades", "/api/v1/trades/1",
    "/api/v1/trades/summary", "/api/v1/trades/export.csv", "/api/v1/balances",
    "/api/v1/controls", "/api/v1/rates", "/api/v1/tickets", "/api/v1/openapi.json",
    "/api/v1/metrics", "/health", "/health/db", "/api/v1/health/redis", "/login",
    "/", "/trades", "/markets/p2p/USDT-VES", "/_dash-layout", "/_dash-dependencies",
]  # fmt: skip
BOUND = 12.0  # a statement or connect timeout plus the page's own work, under load


def ask(desk, method: str, path: str, headers: dict, **kwargs):
    """(path, status or None, seconds, text) of one request; never raises."""
    start = time.monotonic()
    try:
        r = requests.request(method, desk.url + path, headers=headers, timeout=BOUND + 10, **kwargs)
    except requests.RequestException as exc:
        return path, None, time.monotonic() - start, repr(exc)
    return path, r.status_code, time.monotonic() - start, r.text[:20000]


def while_cut(proxies, component: str, mode: str, calls) -> list:
    """Each call's answer while ``component`` refuses or hangs; passed again after."""
    proxies[component].set(mode)
    try:
        time.sleep(0.5)
        return [call() for call in calls]
    finally:
        proxies[component].set("pass")


def late_or_broken(answers) -> list:
    return [
        (path, status, round(took, 1), text[:160])
        for path, status, took, text in answers
        if status is None or status == 500 or took > BOUND or "Traceback" in text
    ]


@pytest.mark.parametrize("mode", ["refuse", "hang"])
@pytest.mark.parametrize("component", ["db", "redis", "rabbitmq"])
def test_every_route_answers_in_time_without_a_500(proxied_desk, component, mode):
    desk, proxies, _ = proxied_desk
    page = desk.auth | {"Accept": "text/html"}
    calls = [lambda path=path: ask(desk, "GET", path, page) for path in GETS]
    bad = late_or_broken(while_cut(proxies, component, mode, calls))
    assert not bad, bad


def writes(desk, admin: dict[str, str]) -> list[tuple[str, dict, dict | str]]:
    """(path, headers, JSON body or form) of every write a person or a page sends."""
    from tests.unit.test_access import EXECUTE, PRICES
    from tests.unit.test_desk_pages import grid_request, pause

    trader, key = desk.auth, {"Idempotency-Key": f"probe-{time.monotonic_ns()}"}
    money = {"account": "binance:USDT", "amount": "1", "reason": "fault probe"}
    return [
        ("/api/v1/trades", trader | key, {"opportunity_id": 1}),
        ("/api/v1/balances/deposit", admin, money),
        ("/api/v1/balances/transfer", admin,
         {"from": "binance:USDT", "to": "binance:spot:USDT", "amount": "1", "reason": "probe"}),
        ("/api/v1/controls/pause", admin, {"reason": "fault probe"}),
        ("/api/v1/trades/1/close", admin, {"reason": "fault probe"}),
        ("/api/v1/tickets/1/cancel", admin, {"reason": "fault probe"}),
        ("/login", {}, "username=live&password=wrong"),
        ("/_dash-update-component", trader, PRICES),
        ("/_dash-update-component", trader, EXECUTE),
        ("/_dash-update-component", trader, grid_request(0, 100)),
        ("/_dash-update-component", admin, pause("fault probe")),
        ("/api/v1/controls/resume", admin, {"reason": "fault probe"}),  # leaves it as found
    ]  # fmt: skip


def send(desk, path: str, headers: dict, body: dict | str):
    if isinstance(body, dict):
        return ask(desk, "POST", path, headers, json=body)
    form = headers | {"Content-Type": "application/x-www-form-urlencoded"}
    return ask(desk, "POST", path, form, data=body)


@pytest.fixture(scope="module")
def admin_auth(proxied_desk):
    from tests.conftest import TEST_PASSWORD, desk_command

    desk = proxied_desk[0]
    desk_command(desk.env, "users", "create", "probe-admin", "--role", "admin",
                 "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip
    token = desk_command(desk.env, "tokens", "create", "probe", "--user", "probe-admin").strip()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("mode", ["refuse", "hang"])
@pytest.mark.parametrize("component", ["db", "redis", "rabbitmq"])
def test_every_write_and_callback_answers_in_time_without_a_500(
    proxied_desk, admin_auth, component, mode
):
    desk, proxies, _ = proxied_desk
    calls = [lambda w=write: send(desk, *w) for write in writes(desk, admin_auth)]
    answers = while_cut(proxies, component, mode, calls)
    bad = late_or_broken(answers)
    assert not bad, bad
    if component == "db":  # nothing can have been stored: no write says it was
        stored = [(p, s, t[:160]) for p, s, _, t in answers if s in (200, 201, 202)]
        assert all(p == "/_dash-update-component" for p, _, _ in stored), stored

    def controls():
        r = requests.get(desk.url + "/api/v1/controls", headers=admin_auth, timeout=10)
        return r.json()["controls"] if r.status_code == 200 else None

    # the probe's resume went through (or, database away, the pause never did)
    assert wait_until(controls, 30, "controls once it is back")["kill_switch"] == "false"
