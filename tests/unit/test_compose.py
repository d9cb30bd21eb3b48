"""docker-compose.yml, Prometheus and Grafana files checked statically (no Docker engine).

What an operator would trip over: a service without a health check, a dependency that
starts before its database is ready, a password with a working default, a dashboard panel
querying a metric the desk never exports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

LONG_RUNNING = {
    "timescaledb",
    "redis",
    "rabbitmq",
    "web",
    "worker",
    "beat",
    "prometheus",
    "grafana",
}
ONE_SHOT = {"migrate"}
APP_SERVICES = {"web", "worker", "beat"}

# Metrics exported outside backend/ops/metrics.py: Prometheus's own `up`.
EXTRA_METRICS = {"up"}
EXTRA_HISTOGRAMS: set[str] = set()

PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}
SECRET_NAME = re.compile(r"PASSWORD|PASS$|SECRET|_KEY$")


def load_yaml(relative: str) -> dict:
    return yaml.safe_load((ROOT / relative).read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml("docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


DASHBOARD_TITLES = {
    "P2P Exchange — System overview",
    "P2P Exchange — Performance",
    "P2P Exchange — Business",
}


@pytest.fixture(scope="module")
def dashboards() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ROOT / "grafana/dashboards").glob("*.json"))]


@pytest.fixture(scope="module", params=sorted(DASHBOARD_TITLES))
def dashboard(request, dashboards) -> dict:
    return next(d for d in dashboards if d["title"] == request.param)


def published(service: dict) -> set[tuple[str, str]]:
    """(host port, container port) pairs from the short `ports` syntax."""
    pairs = set()
    for entry in service.get("ports", []):
        *_, host, container = str(entry).split(":")
        pairs.add((host, container.split("/")[0]))
    return pairs


def bind_mounts(service: dict) -> dict[str, str]:
    """container path -> host path, for `./host:/container[:ro]` volumes."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target, *_ = entry.split(":")
        if source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression selects (label names, functions, keywords dropped)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges, subqueries, Grafana's $__range
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    # The lookbehind keeps `1e3` and `15m` from yielding `e3` and `m`.
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        name = match.group(0)
        if expr[match.end() :].lstrip().startswith("(") or name.lower() in PROMQL_KEYWORDS:
            continue  # a function or aggregation, or an operator word
        names.add(name)
    return names


@pytest.fixture(scope="module")
def exported_metrics() -> set[str]:
    source = (ROOT / "backend/ops/metrics.py").read_text()
    declared = re.findall(r'(Counter|Gauge|Histogram|Summary)\(\s*"([a-zA-Z_:][\w:]*)"', source)
    histograms = {name for kind, name in declared if kind == "Histogram"} | EXTRA_HISTOGRAMS
    assert histograms, "no Histogram found in backend/ops/metrics.py: the regex is out of date"
    return (
        {name for _, name in declared}
        | EXTRA_METRICS
        | {h + suffix for h in histograms for suffix in ("_bucket", "_sum", "_count")}
    )


def dashboard_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows keep their panels inside
    return [p for p in panels if p["type"] != "row"]


# --- compose -----------------------------------------------------------------------------


def test_the_whole_desk_is_in_compose(services):
    assert set(services) >= LONG_RUNNING | ONE_SHOT


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_the_migrate_job_runs_once_and_upgrades_then_seeds(services):
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    command = " ".join(migrate["command"])
    assert "db upgrade" in command and "db seed" in command
    assert command.index("db upgrade") < command.index("db seed")


def test_every_dependency_waits_on_a_condition_its_target_can_meet(services):
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, spec in depends.items():
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {target}"
                assert target in ONE_SHOT, f"{name} waits for long-running {target} to exit"


def test_app_services_start_after_migrations_on_a_healthy_broker(services):
    assert services["migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["rabbitmq"]["condition"] == "service_healthy", name


def test_data_lives_in_declared_named_volumes(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for entry in service.get("volumes", []):
            source = entry.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"
    data_paths = {
        "timescaledb": "/var/lib/postgresql/data",
        "rabbitmq": "/var/lib/rabbitmq",
        "prometheus": "/prometheus",
        "grafana": "/var/lib/grafana",
    }
    for name, path in data_paths.items():
        named = {e.split(":")[1] for e in services[name]["volumes"] if e.split(":")[0] in declared}
        assert path in named, f"{name} keeps {path} outside a named volume"


def test_secrets_are_required_from_env_with_no_default():
    text = (ROOT / "docker-compose.yml").read_text()
    secrets = [m for m in re.finditer(r"\$\{(\w+)([^}]*)\}", text) if SECRET_NAME.search(m[1])]
    assert {m[1] for m in secrets} >= {
        "POSTGRES_PASSWORD",
        "RABBITMQ_PASSWORD",
        "SECRET_KEY",
        "GRAFANA_ADMIN_PASSWORD",
    }
    for match in secrets:
        assert match[2].startswith((":?", "?")), f"${{{match[1]}}} must be required: {match[0]}"


def test_secret_environment_values_are_never_literals(services):
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert str(value).startswith("${"), f"{name}.{key} is a literal"
            if "@" in str(value):  # a URL with credentials: its password comes from .env
                assert re.search(r":\$\{\w+:\?[^}]*\}@", value), f"{name}.{key}"


def test_operator_ports_are_published(services):
    assert ("3001", "3000") in published(services["grafana"])
    assert ("15672", "15672") in published(services["rabbitmq"])
    assert ("9090", "9090") in published(services["prometheus"])


def test_app_services_share_a_non_root_image_with_a_tmpfs_metrics_dir(services):
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    for name in APP_SERVICES | ONE_SHOT:
        service = services[name]
        assert service["build"] == ".", name
        metrics_dir = service["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        tmpfs = [entry.split(":")[0] for entry in service.get("tmpfs", [])]
        assert metrics_dir in tmpfs, f"{name}: multiprocess dir must be wiped at start"


# --- prometheus wiring -------------------------------------------------------------------


def test_prometheus_scrapes_the_ports_compose_gives_web_and_worker(services):
    config = load_yaml("prometheus/prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    web_env, worker_env = services["web"]["environment"], services["worker"]["environment"]
    assert web_env["HOST"] == "0.0.0.0"  # gunicorn binds 127.0.0.1 otherwise
    assert jobs["desk-web"]["metrics_path"] == "/api/v1/metrics"
    assert jobs["desk-web"]["static_configs"][0]["targets"] == [f"web:{web_env['PORT']}"]
    assert worker_env["WORKER_METRICS_PORT"] == "9808"
    assert jobs["desk-worker"]["static_configs"][0]["targets"] == ["worker:9808"]


def test_prometheus_container_sees_its_config_and_rules(services):
    prometheus = services["prometheus"]
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = Path(config_flag.split("=", 1)[1])
    host_dir = bind_mounts(prometheus)[str(config_path.parent)]
    config = load_yaml(f"{host_dir}/{config_path.name}")
    for rule_file in config["rule_files"]:
        assert (ROOT / host_dir / rule_file).is_file(), rule_file


# --- grafana -----------------------------------------------------------------------------


def test_grafana_provisions_the_prometheus_datasource_by_uid(services):
    source = load_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    assert source["uid"] == "prometheus" and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert bind_mounts(services["grafana"])["/etc/grafana/provisioning"] == "./grafana/provisioning"


def test_dashboards_land_in_the_p2p_exchange_folder(services):
    provider = load_yaml("grafana/provisioning/dashboards/p2p-exchange.yml")["providers"][0]
    assert provider["folder"] == "P2P Exchange"
    # The provider reads the path the compose file mounts the repo's dashboards on.
    assert bind_mounts(services["grafana"])[provider["options"]["path"]] == "./grafana/dashboards"


def test_three_dashboards_with_their_own_uids(dashboards):
    assert {d["title"] for d in dashboards} == DASHBOARD_TITLES
    assert len({d["uid"] for d in dashboards}) == 3


def test_every_panel_queries_the_provisioned_datasource(dashboard):
    panels = dashboard_panels(dashboard)
    assert len(panels) >= 10
    for panel in panels:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus", panel["title"]


def test_panel_ids_are_unique_and_fit_the_grid(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_metric_name_extraction_skips_functions_labels_and_durations():
    expr = (
        'histogram_quantile(0.95, sum by (le, job) (rate(foo_bucket{job="a", x=~"b.c"}'
        "[$__rate_interval]))) / on(job) group_left bar offset 15m > bool 1e3 or up"
    )
    assert metric_names(expr) == {"foo_bucket", "bar", "up"}


def test_dashboard_queries_only_metrics_the_desk_exports(dashboards, exported_metrics):
    used = set()
    for dashboard in dashboards:
        for panel in dashboard_panels(dashboard):
            for target in panel["targets"]:
                names = metric_names(target["expr"])
                assert names, f"no metric found in {target['expr']!r}"
                assert names <= exported_metrics, f"{panel['title']}: {names - exported_metrics}"
                used |= names
    # The brief's panels: each family below must be on the dashboard.
    for required in (
        "price_updates_total",
        "market_data_stale",
        "active_arbitrage_opportunities",
        "trades_executed_total",
        "trade_profit_usd_bucket",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "celery_tasks_total",
        "celery_task_duration_seconds_bucket",
        "celery_tasks_active",
        "circuit_breaker_state",
        "db_queries_total",
        "redis_cache_hits_total",
        "health_component_up",
        "celery_queue_messages",
        "celery_task_retries_total",
        "market_best_price",
        "market_spread_bps",
    ):
        assert required in used, f"dashboard has no panel on {required}"


def test_alert_rules_use_only_metrics_the_desk_exports(exported_metrics):
    rules = [r for g in load_yaml("prometheus/alerts.yml")["groups"] for r in g["rules"]]
    for rule in rules:
        names = metric_names(rule["expr"])
        assert names and names <= exported_metrics, f"{rule['alert']}: {names}"
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
