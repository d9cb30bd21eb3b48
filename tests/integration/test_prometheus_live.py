"""Debian's `prometheus` scrapes a live desk (gunicorn web, prefork worker, beat on
PostgreSQL, Redis and RabbitMQ) while traders use it and a trade runs, then every Grafana
panel query and every alert expression is evaluated through Prometheus' HTTP API: each
must parse and return data, so no panel opens on "No data" and no rule is silently broken.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from decimal import Decimal

import pytest
import redis
import requests
import yaml

from tests.integration.test_prometheus_config import (
    PROMETHEUS_DIR,
    dashboard_queries,
    prometheus_server,
    query,
)
from tests.livedesk import drop_vhost, fresh_vhost, start_live_desk

SCRAPE = "1s"


@pytest.fixture(scope="module")
def live(tmp_path_factory, make_pg_database, redis_url, rabbitmq_url):
    vhost = fresh_vhost(rabbitmq_url.rsplit("/", 1)[0])
    prefix = f"live-{uuid.uuid4().hex[:6]}:"
    desk = start_live_desk(
        tmp_path_factory.mktemp("live"),
        make_pg_database(),
        redis_url,
        vhost,
        extra_env={"REDIS_PREFIX": prefix},
    )
    yield desk
    desk.stop_all()
    drop_vhost(vhost)
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture(scope="module")
def prometheus(live, tmp_path_factory):
    work = tmp_path_factory.mktemp("prometheus-live")
    config = {
        "global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
        "rule_files": [str(PROMETHEUS_DIR / "alerts.yml")],
        "scrape_configs": [
            {
                "job_name": "desk-web",
                "metrics_path": "/api/v1/metrics",
                "static_configs": [{"targets": [live.url.removeprefix("http://")]}],
            },
            {"job_name": "desk-worker", "static_configs": [{"targets": [live.worker_metrics]}]},
        ],
    }
    with prometheus_server(work, yaml.safe_dump(config)) as url:
        yield url


def callback_body(output: str, component: str, prop: str, value) -> dict:
    return {
        "output": output,
        "outputs": {"id": output.split(".")[0], "property": output.split(".")[1]},
        "inputs": [{"id": component, "property": prop, "value": value}],
        "changedPropIds": [f"{component}.{prop}"],
    }


def traders_at_work(live, stop: threading.Event) -> None:
    """What the UI and scripts do all day: prices, lists, the health banner's callback."""
    n = 0
    while not stop.is_set():
        n += 1
        for path in ("/api/v1/prices", "/api/v1/opportunities", "/api/v1/trades"):
            live.get(path)
        live.post(
            "/_dash-update-component",
            json=callback_body("health-banner.children", "health-tick", "n_intervals", n),
        )
        stop.wait(0.3)


def execute_a_trade(live) -> dict:
    """The crossed opportunity the desk keeps finding, requested through the API."""
    r = live.post(
        "/api/v1/trades",
        json={"opportunity_id": live.crossed_opportunity(), "size": "500"},
        headers={"Idempotency-Key": f"live-{uuid.uuid4().hex}"},
    )
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        trade = live.get(f"/api/v1/trades/{r.json()['id']}").json()
        if trade["status"] in ("filled", "rejected", "failed"):
            return trade
        time.sleep(0.2)
    pytest.fail(f"trade still {trade['status']} after 30 s")


@pytest.fixture(scope="module")
def trade(live):
    return execute_a_trade(live)


@pytest.fixture(scope="module")
def scraped(live, prometheus, trade):
    deadline = time.monotonic() + 90
    while live.get("/api/v1/health").status_code != 200:  # the worker's first heartbeat
        if time.monotonic() > deadline:
            pytest.fail(f"the live desk never got healthy: {live.get('/api/v1/health').text}")
        time.sleep(0.5)
    stop = threading.Event()
    traffic = threading.Thread(target=traders_at_work, args=(live, stop), daemon=True)
    traffic.start()
    assert trade["status"] == "filled", trade
    time.sleep(15)  # several scrapes and rule evaluations with all of that in them
    yield prometheus
    stop.set()
    traffic.join(timeout=10)


def data(prometheus_url: str, expr: str) -> tuple[str | None, list]:
    status, body = query(prometheus_url, expr)
    if status != 200 or body.get("status") != "success":
        return body.get("error", f"HTTP {status}"), []
    return None, body["data"]["result"]


def test_every_panel_query_returns_data_from_a_live_desk(scraped):
    failures = []
    for where, expr in dashboard_queries():
        error, result = data(scraped, expr)
        if error or not result:
            failures.append(f"{where}: {error or 'no data'}\n    {expr}")
    assert not failures, "\n".join(failures)


def test_error_ratio_panels_read_zero_when_nothing_failed(scraped):
    panels = [(w, e) for w, e in dashboard_queries() if "ratio" in w.lower() and "5.." in e]
    assert panels
    for where, expr in panels:
        _, result = data(scraped, expr)
        assert [float(r["value"][1]) for r in result] == [0.0], where


def operand(expr: str) -> str:
    """An alert's expression without its threshold (its first top-level branch if it has
    several), i.e. the series the rule watches: those must exist while nothing is wrong."""
    first = re.split(r"\nor\n", expr.strip())[0]
    return re.sub(r"\s*(==|!=|>=|<=|>|<)\s*[-+\d.e]+\s*$", "", first.strip())


def test_operand_strips_the_threshold_and_keeps_the_first_branch():
    assert operand("max by (x) (m) == 0") == "max by (x) (m)"
    assert operand("sum(rate(a[5m])) > 0\nor\nsum(b)") == "sum(rate(a[5m]))"
    assert operand("(\n  a\n  or\n  b\n) > 0.05") == "(\n  a\n  or\n  b\n)"


def test_every_alert_rule_evaluates_cleanly_and_watches_series_that_exist(scraped):
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    rules = {r["alert"]: r["expr"] for g in groups for r in g["rules"]}
    loaded = requests.get(f"{scraped}/api/v1/rules", timeout=5).json()["data"]["groups"]
    health = {r["name"]: (r["health"], r.get("lastError", "")) for g in loaded for r in g["rules"]}
    assert set(health) == set(rules)
    assert all(h == ("ok", "") for h in health.values()), health
    failures = []
    for name, expr in rules.items():
        error, result = data(scraped, operand(expr))
        if error or not result:
            failures.append(f"{name}: {error or 'no data'}\n    {operand(expr)}")
    assert not failures, "\n".join(failures)


def test_dash_callbacks_are_counted_by_output_and_assets_not_at_all(live, scraped):
    _, result = data(scraped, 'sum by (endpoint) (http_requests_total{job="desk-web"})')
    endpoints = {r["metric"]["endpoint"] for r in result}
    assert "callback:health-banner.children" in endpoints
    assert "/_dash-update-component" not in endpoints
    assert not any(e.startswith(("/assets", "/_dash-component-suites")) for e in endpoints)
    _, result = data(scraped, '{__name__=~"http_requests?_total"}')
    assert {r["metric"]["__name__"] for r in result} == {"http_requests_total"}


def test_the_trade_shows_on_the_business_dashboard(scraped):
    _, result = data(scraped, 'sum(trades_executed_total{status="filled"})')
    assert float(result[0]["value"][1]) >= 1
    _, result = data(scraped, "sum(trade_profit_usd_sum)")
    assert Decimal(result[0]["value"][1]) > 0


def test_queue_depths_are_reported_per_queue(scraped):
    _, result = data(scraped, 'celery_queue_messages{state="ready"}')
    assert {r["metric"]["queue"] for r in result} == {"market", "trading", "default"}


def test_web_worker_and_beat_write_json_lines_that_follow_the_trade(live, trade):
    lines = {}
    for process in ("web", "worker", "beat"):
        raw = [line for line in live.log(process).splitlines() if line.strip()]
        assert raw, f"{process} wrote nothing"
        lines[process] = [json.loads(line) for line in raw]  # every line is JSON
    mine = {
        process: [x for x in parsed if x.get("trade_id") == trade["id"]]
        for process, parsed in lines.items()
    }
    request = next(x for x in mine["web"] if x["event"] == "request")
    assert request["path"] == "/api/v1/trades" and request["user"] == "live"
    worker = [x for x in mine["worker"] if x.get("task") == "tasks.trading.execute"]
    assert worker and {x["request_id"] for x in worker} == {request["request_id"]}
    assert any("succeeded" in x["event"] for x in worker)
