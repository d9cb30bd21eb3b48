"""HTTP metrics for every route the desk serves, exposed at /api/v1/metrics.

``http_requests_total`` and ``http_request_duration_seconds`` (the specification's
names, declared in ``metrics``) by method, endpoint and status, counted in
``after_request``/``teardown_request`` so an answer the guard or an error handler gave
is counted too. The endpoint is the route rule, and for Dash callbacks
``callback:<output>`` (the callback's output id), so each callback of the UI has its own
series. Static assets, the metrics scrape and the health URLs (their answers live in
``health_component_up``) are left out.

prometheus_flask_exporter serves the exposition (aggregating every process under
PROMETHEUS_MULTIPROC_DIR); its own default metrics stay off, since they would add a
second request counter (``http_request_total``).
"""

from __future__ import annotations

import os
import re
from timeit import default_timer

from flask import Flask, current_app, g, request
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_flask_exporter import PrometheusMetrics
from werkzeug.exceptions import HTTPException

from backend.ops import metrics

EXCLUDED = re.compile(
    r"^/(api/v1/metrics$|api/v1/health|health|_dash-component-suites/|assets/|_favicon)"
)
CALLBACK_ROUTE = "/_dash-update-component"


def endpoint() -> str:
    """The route rule; a Dash callback by its output (only outputs the app declared)."""
    if request.url_rule is None:
        return "unmatched"
    rule = request.url_rule.rule
    if rule == CALLBACK_ROUTE:
        try:
            body = request.get_json(silent=True)  # parsed already: Dash or the guard read it
        except HTTPException:  # refused before anyone read it (too large)
            body = None
        output = body.get("output") if isinstance(body, dict) else None
        dash = current_app.extensions.get("dash")
        if isinstance(output, str) and dash is not None and output in dash.callback_map:
            return f"callback:{output}"
        return "callback:unknown"
    return rule


def _start() -> None:
    g.metrics_start = default_timer()


def _record(status: int) -> None:
    if "metrics_start" not in g or g.get("metrics_recorded") or EXCLUDED.match(request.path):
        return
    g.metrics_recorded = True
    labels = {"method": request.method, "endpoint": endpoint(), "status": str(status)}
    metrics.HTTP_REQUESTS.labels(**labels).inc()
    metrics.HTTP_DURATION.labels(**labels).observe(max(default_timer() - g.metrics_start, 0))


def _after(response):
    _record(response.status_code)
    return response


def _teardown(exc: BaseException | None) -> None:
    if exc is not None:  # no response was made: what the client got was a 500
        _record(500)


class _Exporter(PrometheusMetrics):
    """prometheus_flask_exporter restricts the registry to ``?name[]=`` before it adds the
    multiprocess collector, and a restricted registry cannot take one (AttributeError: a
    500 on Prometheus's own filter). Here the collector goes in first, to a registry
    that lets a collector without declared names be filtered."""

    def generate_metrics(self, accept_header=None, names=None):
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            return super().generate_metrics(accept_header, names)
        registry = CollectorRegistry(support_collectors_without_names=True)
        MultiProcessCollector(registry)
        if names:
            registry = registry.restricted_registry(names)
        encode, content_type = choose_encoder(accept_header)
        return encode(registry).decode("utf-8"), content_type


def init_app(app: Flask) -> PrometheusMetrics:
    app.before_request_funcs.setdefault(None, []).insert(0, _start)  # before the guard
    app.after_request(_after)
    app.teardown_request(_teardown)
    exporter = _Exporter(
        app,
        path="/api/v1/metrics",
        export_defaults=False,
        # Multiprocess exposition reads the shared directory, so a private registry only
        # keeps a second app in the same process from clashing; without it, use the default.
        registry=CollectorRegistry() if "PROMETHEUS_MULTIPROC_DIR" in os.environ else REGISTRY,
    )
    app.extensions["prometheus"] = exporter
    return exporter
