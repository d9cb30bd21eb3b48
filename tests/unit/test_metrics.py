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
