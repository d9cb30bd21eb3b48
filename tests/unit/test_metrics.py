import re


def sample(text: str, name: str, **labels) -> float:
    """Sum of the series of ``name`` whose labels include ``labels`` (0 if none)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_are_prometheus_text_with_the_specified_names(client):
    client.get("/api/v1/prices")
    r = client.get("/api/v1/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    for name in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "db_queries_total",
        "db_query_duration_seconds_bucket",
    ):
        assert re.search(rf"^{name}\{{", r.text, re.M), name


def test_every_request_moves_http_requests_total(client):
    before = sample(
        client.get("/api/v1/metrics").text,
        "http_requests_total",
        endpoint="/api/v1/opportunities",
        status="200",
    )
    client.get("/api/v1/opportunities")
    client.get("/api/v1/opportunities")
    after = sample(
        client.get("/api/v1/metrics").text,
        "http_requests_total",
        endpoint="/api/v1/opportunities",
        status="200",
    )
    assert after - before == 2


def test_one_request_counter_and_dash_callbacks_by_output(client):
    body = {
        "output": "health-banner.children",
        "outputs": {"id": "health-banner", "property": "children"},
        "inputs": [{"id": "health-tick", "property": "n_intervals", "value": 1}],
        "changedPropIds": ["health-tick.n_intervals"],
    }
    assert client.post("/_dash-update-component", json=body).status_code in (200, 204)
    client.get("/assets/style.css")
    text = client.get("/api/v1/metrics").text
    assert sample(text, "http_requests_total", endpoint="callback:health-banner.children") >= 1
    assert sample(text, "http_requests_total", endpoint="/_dash-update-component") == 0
    assert sample(text, "http_requests_total", endpoint="/assets/<path:filename>") == 0
    assert not re.search(r"^http_request_total", text, re.M)  # the exporter's own is off


def test_known_label_sets_start_at_zero(client):
    text = client.get("/api/v1/metrics").text
    for strategy in ("crossed_book", "spot_p2p", "triangle"):
        for status in ("filled", "rejected", "failed", "cancelled", "unwound", "closed"):
            assert re.search(
                rf'^trades_executed_total\{{mode="live",status="{status}",strategy="{strategy}"\}}',
                text,
                re.M,
            ), (strategy, status)
    assert re.search(
        r'^price_updates_total\{asset="USDT",fiat="VES",source="simulator"\}', text, re.M
    )
    assert re.search(r'^circuit_breaker_opens_total\{upstream="db"\}', text, re.M)


def test_prometheus_name_filter_returns_only_the_named_families(client):
    """``?name[]=`` (Prometheus's federation filter) on the multiprocess registry."""
    client.get("/api/v1/opportunities")
    r = client.get("/api/v1/metrics?name[]=http_requests_total&name[]=db_queries_total")
    assert r.status_code == 200
    families = set(re.findall(r"^# TYPE (\w+) ", r.text, re.M))
    assert families == {"http_requests_total", "db_queries_total"}
    assert sample(r.text, "http_requests_total", endpoint="/api/v1/opportunities") >= 1
    assert client.get("/api/v1/metrics?name[]=no_such_metric").text == ""
