"""Every GET route and page with each dependency refusing connections (the server gone)
or hung: an answer within its bound, never a 500 or a traceback, 503s naming what failed;
all 200 again once it is back."""

from __future__ import annotations

import time

import pytest
import requests

GETS = [
    "/api/v1/prices", "/api/v1/opportunities", "/api/v1/trades", "/api/v1/trades/1",
    "/api/v1/trades/summary", "/api/v1/trades/export.csv", "/api/v1/balances",
    "/api/v1/controls", "/api/v1/rates", "/api/v1/tickets", "/api/v1/openapi.json",
    "/api/v1/metrics", "/health", "/health/db", "/api/v1/health/redis", "/login",
    "/", "/trades", "/markets/p2p/USDT-VES", "/_dash-layout", "/_dash-dependencies",
]  # fmt: skip
BOUND = 12.0  # a statement or connect timeout plus the page's own work, under load


def probe(desk, path):
    start = time.monotonic()
    try:
        r = requests.get(
            desk.url + path, headers=desk.auth | {"Accept": "text/html"}, timeout=BOUND + 10
        )
    except requests.RequestException as exc:
        return path, None, time.monotonic() - start, repr(exc)
    return path, r.status_code, time.monotonic() - start, r.text[:20000]


@pytest.mark.parametrize("mode", ["refuse", "hang"])
@pytest.mark.parametrize("component", ["db", "redis", "rabbitmq"])
def test_every_route_answers_in_time_without_a_500(proxied_desk, component, mode):
    desk, proxies, _ = proxied_desk
    proxies[component].set(mode)
    try:
        time.sleep(0.5)
        answers = [probe(desk, path) for path in GETS]
    finally:
        proxies[component].set("pass")
    bad = [
        (path, status, round(took, 1), text[:160])
        for path, status, took, text in answers
        if status is None or status == 500 or took > BOUND or "Traceback" in text
    ]
    assert not bad, bad
