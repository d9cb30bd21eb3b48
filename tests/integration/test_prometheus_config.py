"""The Prometheus config, alert rules and dashboard queries, checked by real Prometheus tools.

promtool validates the config and runs the alert unit tests; a real `prometheus` server
parses every Grafana query, so a typo in a panel fails here instead of showing "No data".
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "prometheus"
DASHBOARDS = sorted((ROOT / "grafana/dashboards").glob("*.json"))

# Grafana replaces its macros before the query reaches Prometheus; do the same.
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
READY_TIMEOUT = 20.0


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH; install it with `apt-get install -y prometheus`")
    return path


def run_promtool(*args: str) -> None:
    result = subprocess.run(
        [tool("promtool"), *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_prometheus_config_is_valid_and_finds_its_rule_file():
    run_promtool("check", "config", "prometheus/prometheus.yml")


def test_alert_rules_are_valid():
    run_promtool("check", "rules", "prometheus/alerts.yml")


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say():
    run_promtool("test", "rules", "prometheus/alerts_test.yml")


def test_every_alert_rule_has_unit_tests():
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    alerts = {rule["alert"] for group in rules for rule in group["rules"]}
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - firing == set(), "rules without a firing case"
    assert alerts - quiet == set(), "rules without a not-firing case"


# --- dashboard queries on a real server --------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:  # 400 for a bad query still carries JSON
        return error.code, json.load(error)


@contextmanager
def prometheus_server(workdir: Path, config: str) -> Iterator[str]:
    """Debian's prometheus with ``config`` (YAML text), on a free port; yields its URL."""
    (workdir / "prometheus.yml").write_text(config)
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"prometheus exited {process.returncode}; see {log.name}")
            try:
                if urllib.request.urlopen(f"{url}/-/ready", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus not ready within {READY_TIMEOUT:.0f} s; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory) -> Iterator[str]:
    """A throwaway Prometheus that scrapes nothing: every series is unknown, so a query
    succeeds empty when it parses and answers 400 when it does not."""
    config = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"
    with prometheus_server(tmp_path_factory.mktemp("prometheus"), config) as url:
        yield url


def query(base: str, expr: str) -> tuple[int, dict]:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    return get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")


def dashboard_queries() -> list[tuple[str, str]]:
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                queries.append((f"{path.name}: {panel['title']} {target['refId']}", target["expr"]))
    return queries


def test_the_server_rejects_a_broken_query(prometheus_url):
    # Proves the check below can fail: a typo gets a 400, not an empty success.
    status, body = query(prometheus_url, "sum(rate(price_updates_total[$__rate_interval])")
    assert status == 400 and body["errorType"] == "bad_data"


def test_every_dashboard_query_parses_on_a_real_prometheus(prometheus_url):
    queries = dashboard_queries()
    assert queries, "no dashboard queries found"
    failures = []
    for where, expr in queries:
        status, body = query(prometheus_url, expr)
        if status != 200 or body.get("status") != "success":
            failures.append(f"{where}: {body.get('error', status)}\n    {expr}")
    assert not failures, "\n".join(failures)
