"""Each dependency hung and cut under a live desk (prices ingesting, trades requested):
health answers within 2 s naming it, also with every app thread stuck; no trade is lost
or doubled; the desk recovers once the dependency returns, with no process restarted."""

from __future__ import annotations

import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select, update

from backend.config import Settings
from backend.db import session_factory
from backend.models import Trade, TradeEvent
from tests.livedesk import SECRET

HEALTH_BOUND = 2.0
FINAL = ("filled", "rejected", "failed")


def timed(fn):
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


def health(desk, path="/api/v1/health"):
    return requests.get(desk.url + path, timeout=HEALTH_BOUND + 3)


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.5)
    pytest.fail(f"no {what} within {timeout} s")


class Trader:
    """Requests trades on the desk's crossed opportunity; remembers every accepted key."""

    def __init__(self, desk, direct):
        settings = Settings(_env_file=None, database_url=direct["db"], secret_key=SECRET)
        self.sessions = session_factory(settings)  # straight to PostgreSQL, past the proxy
        self.desk = desk
        self.opportunity = desk.crossed_opportunity()
        self.accepted: dict[str, int] = {}

    def request(self, key: str) -> requests.Response:
        for _ in range(20):
            r = self.desk.post(
                "/api/v1/trades",
                json={"opportunity_id": self.opportunity, "size": "500"},
                headers={"Idempotency-Key": key},
                timeout=30,
            )
            # refused, storing nothing: the scan saw another crossing, or this module's
            # earlier fills used the book up until the next poll brings it back
            if r.status_code != 409 or not ("expired" in r.text or "cannot fill" in r.text):
                break
            time.sleep(0.5)
            self.opportunity = self.desk.crossed_opportunity()
        if r.status_code in (200, 201):
            self.accepted[key] = r.json()["id"]
        return r

    def rows(self):
        with self.sessions() as session:
            keys = dict(
                session.execute(
                    select(Trade.idempotency_key, func.count()).group_by(Trade.idempotency_key)
                ).all()
            )
            statuses = dict(session.execute(select(Trade.id, Trade.status)).all())
            fills = dict(
                session.execute(
                    select(TradeEvent.trade_id, func.count())
                    .where(TradeEvent.to_status == "filled")
                    .group_by(TradeEvent.trade_id)
                ).all()
            )
        return keys, statuses, fills


@pytest.fixture(scope="module")
def trader(proxied_desk):
    desk, _, direct = proxied_desk
    return Trader(desk, direct)


SCENARIOS = [(c, m) for c in ("db", "redis", "rabbitmq") for m in ("hang", "cut")]


@pytest.mark.parametrize(("component", "mode"), SCENARIOS)
def test_a_dependency_that_fails_is_named_within_two_seconds_and_the_desk_recovers(
    proxied_desk, trader, component, mode
):
    desk, proxies, _ = proxied_desk
    pids = {name: p.pid for name, p in desk.processes.items()}
    wait_until(lambda: health(desk).status_code == 200, 90, "healthy desk before the fault")
    before = f"{component}-{mode}-before-{uuid.uuid4().hex[:6]}"
    r = trader.request(before)
    assert r.status_code == 201, r.text

    proxies[component].set(mode)
    try:
        stuck = ThreadPoolExecutor(12)  # more slow requests than the web has app threads
        for _ in range(12):
            stuck.submit(desk.get, "/api/v1/prices", timeout=60)
        time.sleep(0.5)

        def named_down():
            r, took = timed(lambda: health(desk))
            assert took < HEALTH_BOUND, f"health took {took:.1f} s"
            return r.status_code == 503 and r.json()["components"][component]["status"] == "down"

        wait_until(named_down, 15, f"health naming {component} down")
        with ThreadPoolExecutor(20) as pool:  # a storm of checks while it is down
            answers = list(pool.map(lambda _: timed(lambda: health(desk)), range(40)))
        assert max(took for _, took in answers) < HEALTH_BOUND
        assert all(r.status_code == 503 for r, _ in answers)
        if (component, mode) == ("db", "cut"):  # the workers still run and stamp Redis
            assert answers[-1][0].json()["components"]["celery"]["status"] == "ok"
        one, took = timed(lambda: health(desk, f"/api/v1/health/{component}"))
        assert took < HEALTH_BOUND and one.status_code == 503

        during = f"{component}-{mode}-during-{uuid.uuid4().hex[:6]}"
        r = trader.request(during)
        if component == "db":  # nothing can be stored: refused, clearly, not a 500
            assert r.status_code == 503 and r.json()["component"] == "db", r.text
        else:  # stored; queued now or by the sweeper once the broker is back
            assert r.status_code == 201, r.text
        prices = desk.get("/api/v1/prices", timeout=30)
        assert prices.status_code in (200, 503) and prices.headers["Content-Type"].startswith(
            "application/json"
        )
        time.sleep(3)  # ingest and beat keep trying meanwhile
    finally:
        proxies[component].set("pass")
    stuck.shutdown(wait=False, cancel_futures=True)

    wait_until(lambda: health(desk).status_code == 200, 60, f"recovery after {component} {mode}")
    if during not in trader.accepted:  # the client retries with the same key
        wait_until(lambda: trader.request(during).status_code in (200, 201), 30, "a retry")
    after = f"{component}-{mode}-after-{uuid.uuid4().hex[:6]}"
    r = trader.request(after)
    assert r.status_code == 201, r.text

    def settled():
        _, statuses, _ = trader.rows()
        mine = [statuses[trader.accepted[k]] for k in (before, during, after)]
        return all(s in FINAL or s == "executing" for s in mine) and mine

    deadline = time.monotonic() + 60
    while (mine := settled()) and "executing" in mine and time.monotonic() < deadline:
        time.sleep(1)  # an executing trade may still finish; wait for it
    wait_until(settled, 60, "every trade past requested and queued")
    keys, statuses, fills = trader.rows()
    assert all(keys[k] == 1 for k in trader.accepted), "a request stored twice"
    assert all(n == 1 for n in fills.values()), "a trade filled twice"
    assert len(statuses) == len(trader.accepted), "a trade nobody asked for"

    def prices_flow():
        rows = desk.get("/api/v1/prices").json()["prices"]
        return sum(1 for p in rows if p["best_bid"] and not p["stale"]) >= 3

    wait_until(prices_flow, 30, "fresh prices again")
    assert {name: p.pid for name, p in desk.processes.items()} == pids
    assert all(p.poll() is None for p in desk.processes.values()), "a process died"
    mine = [trader.accepted[k] for k in (before, during, after)]

    def none_executing():  # one may be mid-fill right now; none may stay so
        statuses = trader.rows()[1]
        return not [t for t in mine if statuses[t] == "executing"]

    wait_until(none_executing, 30, "no trade left executing past 30 s")
    assert all(n == 1 for n in trader.rows()[2].values()), "a trade filled twice"


def test_a_trade_its_worker_died_on_is_finished_within_30_seconds(proxied_desk, trader):
    """What RabbitMQ does when a worker is killed mid-trade (acks late): the claimed trade's
    message comes again. Nothing was filled, so the trade must be run, not left hanging."""
    desk = proxied_desk[0]
    wait_until(lambda: health(desk).status_code == 200, 90, "a healthy desk")
    desk.signal("worker", signal.SIGSTOP)  # frozen: it receives the message, cannot run it
    key = f"killed-{uuid.uuid4().hex[:6]}"
    r = trader.request(key)
    assert r.status_code == 201, r.text
    trade_id = trader.accepted[key]
    with trader.sessions.begin() as session:  # the dead worker's claim, committed
        session.execute(update(Trade).where(Trade.id == trade_id).values(status="executing"))
    desk.stop("worker", signal.SIGKILL)
    desk.start_worker()  # the message the dead worker held is delivered again
    deadline = time.monotonic() + 30
    while trader.rows()[1][trade_id] == "executing" and time.monotonic() < deadline:
        time.sleep(1)
    assert trader.rows()[1][trade_id] in FINAL
