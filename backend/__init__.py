"""P2P Exchange Desk: the Flask app factory (Dash, JSON API, health and metrics on one server)."""

from __future__ import annotations

import hmac

from flask import Flask, request
from werkzeug.exceptions import Unauthorized

from backend.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    from backend import cli
    from backend.desk import Desk
    from backend.ops import baseline, http_metrics, logs, tracing
    from backend.web import (
        api,
        auth,
        bodies,
        converters,
        errors,
        health,
        locale,
        nul,
        outages,
        security,
        stream,
        tickets,
    )
    from backend.web.access import PUBLIC, grant
    from dashboard import init_dashboard
    from tasks.celery_app import celery_init_app

    settings = settings or Settings()
    logs.configure(settings)
    app = Flask(__name__)
    converters.init_app(app)
    app.config.update(SECRET_KEY=settings.secret_key, JSON_SORT_KEYS=False)
    app.extensions["desk"] = Desk(settings)
    celery_init_app(app)
    security.init_app(app, settings)
    errors.init_app(app)
    bodies.init_app(app, settings.body_read_timeout_seconds)
    nul.init_app(app)  # before the guard: a bearer token with NUL reaches the database
    outages.init_app(app)
    auth.init_app(app)
    locale.init_app(app)
    logs.init_app(app)
    health.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(tickets.bp)
    stream.init_app(app)
    cli.register(app)
    dash_app = init_dashboard(app)
    security.init_headers(app, settings, dash_app.csp_hashes())
    http_metrics.init_app(app)
    baseline.zero_desk(settings)
    tracing.configure(app, settings)
    grant(app, "static", PUBLIC)
    grant(app, "prometheus_metrics", PUBLIC, _scrape_token_check(settings.metrics_token))
    return app


def _scrape_token_check(token: str | None):
    """/api/v1/metrics is public unless METRICS_TOKEN is set; then Prometheus sends it."""
    if not token:
        return None

    def check() -> None:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise Unauthorized("this scrape needs Authorization: Bearer <METRICS_TOKEN>")

    return check
