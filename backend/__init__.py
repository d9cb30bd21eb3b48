"""P2P Exchange Desk: the Flask app factory (Dash, JSON API, health and metrics on one server)."""

from __future__ import annotations

from flask import Flask

from backend.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    from backend import cli
    from backend.desk import Desk
    from backend.ops import http_metrics
    from backend.web import api, health
    from dashboard import init_dashboard
    from tasks.celery_app import celery_init_app

    settings = settings or Settings()
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, JSON_SORT_KEYS=False)
    app.extensions["desk"] = Desk(settings)
    celery_init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    cli.register(app)
    init_dashboard(app)
    http_metrics.init_app(app)  # last: it wraps every route, Dash's included
    return app
