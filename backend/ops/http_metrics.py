"""HTTP metrics through prometheus_flask_exporter, exposed at /api/v1/metrics.

The exporter's own names carry no prefix (``http_request_duration_seconds``); the
original specification's ``http_requests_total`` is added as a default metric on every
endpoint. Each app gets its own exporter registry so tests can build several apps; under
PROMETHEUS_MULTIPROC_DIR the endpoint aggregates every process of the desk.
"""

from __future__ import annotations

import os

from flask import Flask, request
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_flask_exporter import NO_PREFIX, PrometheusMetrics


def init_app(app: Flask) -> PrometheusMetrics:
    exporter = PrometheusMetrics(
        app,
        path="/api/v1/metrics",
        defaults_prefix=NO_PREFIX,
        group_by="url_rule",
        # Multiprocess exposition reads the shared directory, so a private registry only
        # keeps a second app in the same process from clashing; without it, use the default.
        registry=CollectorRegistry() if "PROMETHEUS_MULTIPROC_DIR" in os.environ else REGISTRY,
        excluded_paths=["^/api/v1/metrics$", "^/_dash-", "^/assets/", "^/_favicon"],
    )
    exporter.register_default(
        exporter.counter(
            "http_requests_total",
            "HTTP requests by method, route and status",
            labels={
                "method": lambda: request.method,
                "endpoint": lambda: request.url_rule.rule if request.url_rule else "unmatched",
                "status": lambda response: response.status_code,
            },
        )
    )
    app.extensions["prometheus"] = exporter
    return exporter
