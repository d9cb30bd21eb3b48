"""Fixtures the way flaskr has them: settings -> app -> client, plus the real services.

PROMETHEUS_MULTIPROC_DIR is set before anything imports prometheus_client, exactly as
the process that starts gunicorn or a worker does.
"""

from __future__ import annotations

import os
import tempfile

os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="desk-metrics-")

import pytest  # noqa: E402

from backend import create_app, migrate, seed  # noqa: E402
from backend.config import Settings  # noqa: E402

SERVICES = {
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "redis": "redis://127.0.0.1:6379/15",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
START_HINT = ("start it as DEVELOPERS.md says (PostgreSQL: pg_ctlcluster ... main start, "
              "Redis: redis-server --daemonize yes ..., RabbitMQ: rabbitmq-server -detached)")


def pytest_collection_modifyitems(items):
    """Everything under tests/integration needs the real services."""
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.services)


def embedded_settings(tmp_path, **overrides) -> Settings:
    values = {"database_url": f"sqlite:///{tmp_path / 'desk.sqlite3'}", "redis_url": None,
              "rabbitmq_url": None} | overrides
    return Settings(_env_file=None, **values)


def prepared_app(settings: Settings):
    migrate.upgrade(settings)
    app = create_app(settings)
    desk = app.extensions["desk"]
    with desk.sessions.begin() as session:
        seed.seed(session, settings)
    return app


@pytest.fixture
def settings(tmp_path) -> Settings:
    return embedded_settings(tmp_path)


@pytest.fixture
def app(settings):
    return prepared_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def desk(app):
    return app.extensions["desk"]
