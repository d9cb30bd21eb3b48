"""`make run`'s desk on its embedded default: prices within seconds, a trade to `filled`,
and Ctrl-C stopping every process. (Marked `services` only because it lives here; it
needs no server.)"""

import os
import signal
import time

import pytest

from tests.conftest import start_embedded_desk
from tests.unit.test_metrics import sample


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def live_markets(desk) -> list[dict]:
    prices = desk.get("/api/v1/prices").json()["prices"]
    return [p for p in prices if p["best_bid"] and not p["stale"]]


def test_prices_for_eight_markets_appear_within_fifteen_seconds(embedded_desk):
    wait_for(lambda: len(live_markets(embedded_desk)) >= 8, 15, "8 live markets")
    first = {p["market"]: p["fetched_at"] for p in live_markets(embedded_desk)}
    wait_for(
        lambda: any(p["fetched_at"] != first.get(p["market"]) for p in live_markets(embedded_desk)),
        10,
        "prices to change",
    )


def test_health_answers_200_once_the_worker_beats(embedded_desk):
    r = wait_for(
        lambda: (r := embedded_desk.get("/api/v1/health")).status_code == 200 and r,
        20,
        "a healthy desk",
    )
    assert r.json()["components"]["redis"]["status"] == "not configured"


def test_price_updates_total_keeps_moving(embedded_desk):
    def updates():
        text = embedded_desk.get("/api/v1/metrics").text
        return sample(text, "price_updates_total", asset="USDT", fiat="VES")

    first = wait_for(updates, 15, "a first price update")
    wait_for(lambda: updates() > first, 10, "price_updates_total to increase")


def test_an_opportunity_executed_through_the_api_ends_filled(embedded_desk):
    for attempt in range(5):  # an opportunity can vanish between listing and execution
        opps = wait_for(
            lambda: embedded_desk.get("/api/v1/opportunities").json()["opportunities"],
            45,
            "an opportunity",
        )
        r = embedded_desk.post(
            "/api/v1/trades",
            json={"opportunity_id": opps[0]["id"]},
            headers={"Idempotency-Key": f"embedded-{attempt}"},
        )
        if r.status_code != 201:
            continue
        path = f"/api/v1/trades/{r.json()['id']}"
        trade = wait_for(
            lambda path=path: (
                (t := embedded_desk.get(path).json())["status"] in ("filled", "rejected", "failed")
                and t
            ),
            20,
            "a final status",
        )
        if trade["status"] == "filled":
            assert float(trade["profit_usd"]) > 0 and len(trade["legs"]) >= 2
            return
    pytest.fail(f"no trade filled in 5 attempts; last: {r.status_code} {r.text[:300]}")


def test_ctrl_c_stops_every_process(tmp_path):
    desk = start_embedded_desk(tmp_path)
    proc = desk.process
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=20)
    time.sleep(1)
    try:
        os.killpg(proc.pid, 0)
        survivors = True
    except ProcessLookupError:
        survivors = False
    assert not survivors, "some desk process outlived Ctrl-C"


def test_no_password_or_token_reaches_the_desk_s_logs(embedded_desk):
    import requests

    from tests.conftest import TEST_PASSWORD

    bad = {"Authorization": f"Bearer {embedded_desk.token}-tampered"}
    assert (
        requests.get(embedded_desk.url + "/api/v1/prices", headers=bad, timeout=5).status_code
        == 401
    )
    session = requests.Session()
    page = session.get(embedded_desk.url + "/login", timeout=5).text
    csrf = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    for password in ("wrong-" + TEST_PASSWORD, embedded_desk.admin_password):
        session.post(
            embedded_desk.url + "/login",
            data={"username": "admin", "password": password, "csrf_token": csrf},
            timeout=5,
        )
    assert embedded_desk.get("/api/v1/prices").status_code == 200
    log = embedded_desk.log.read_text()
    assert any(  # the requests did reach the (structured) log...
        '"path": "/login"' in line and '"method": "POST"' in line for line in log.splitlines()
    )
    for secret in (embedded_desk.token, embedded_desk.admin_password, TEST_PASSWORD):
        assert secret not in log  # ...their secrets did not
