"""The real services on 127.0.0.1. A missing one fails loudly; it is never skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from kombu import Connection

from backend import create_app, migrate, seed
from backend.config import Settings
from tests.conftest import SERVICES, START_HINT

ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET = "integration-tests-only"


def _require(name: str, check) -> None:
    try:
        check()
    except Exception as exc:
        pytest.fail(
            f"{name} at {SERVICES[name]} is not reachable ({exc}); {START_HINT}", pytrace=False
        )


@pytest.fixture(autouse=True)
def _close_new_pools():
    """The pools a test opened are closed after it (still usable: they reconnect). Kept
    per URL until the session ends, their idle connections added up to 91 of
    PostgreSQL's 100."""
    from backend.db import _engines

    before = set(_engines)
    yield
    for url in set(_engines) - before:
        _engines[url].dispose()


@pytest.fixture(scope="session")
def make_pg_database():
    """Creates fresh PostgreSQL databases on demand; drops them all at the end."""
    admin = SERVICES["postgres"].replace("postgresql+psycopg", "postgresql")
    _require("postgres", lambda: psycopg.connect(admin, connect_timeout=3).close())
    names = []

    def make() -> str:
        name = f"desk_test_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return SERVICES["postgres"].rsplit("/", 1)[0] + f"/{name}"

    yield make
    from backend.db import _engines

    for name in names:
        for url in [u for u in _engines if u.endswith(name)]:
            _engines.pop(url).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url(make_pg_database):
    return make_pg_database()


@pytest.fixture
def pg_settings(make_pg_database):
    """Settings of a fresh, empty PostgreSQL database, with no Redis or RabbitMQ."""
    return Settings(
        _env_file=None,
        database_url=make_pg_database(),
        secret_key=TEST_SECRET,
        redis_url=None,
        rabbitmq_url=None,
    )


@pytest.fixture
def pg_engine(pg_settings):
    """The desk's engine (its pool, ping and timeouts) on a fresh, empty database."""
    from backend import db

    engine = db.get_engine(pg_settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url():
    url = SERVICES["redis"]
    _require("redis", lambda: redis.Redis.from_url(url, socket_timeout=2).ping())
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="session")
def rabbitmq_url():
    """A private vhost, so queued messages of other runs never reach this session's worker."""
    base = SERVICES["rabbitmq"]
    _require(
        "rabbitmq", lambda: Connection(base, connect_timeout=3).ensure_connection(max_retries=1)
    )
    vhost = f"desk_test_{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    yield base.rstrip("/") + "/" + vhost
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


@pytest.fixture(scope="session")
def service_settings(pg_url, redis_url, rabbitmq_url) -> Settings:
    settings = Settings(
        _env_file=None,
        database_url=pg_url,
        redis_url=redis_url,
        rabbitmq_url=rabbitmq_url,
        secret_key=TEST_SECRET,
    )
    migrate.upgrade(settings)
    return settings


@pytest.fixture(scope="session")
def service_app(service_settings):
    app = create_app(service_settings)
    with app.extensions["desk"].sessions.begin() as session:
        seed.seed(session, service_settings, app.extensions["desk"].now(), paper=True)
    return app


def service_env(settings: Settings) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "RABBITMQ_URL": settings.rabbitmq_url or "",
        "SECRET_KEY": settings.secret_key,
    }


@pytest.fixture(scope="session")
def celery_worker(service_app, service_settings, tmp_path_factory):
    """A real `celery worker` process (prefork) on this session's vhost and database."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "--app",
                "tasks.worker",
                "worker",
                "--queues",
                "market,trading,default",
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=service_env(service_settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    celery = service_app.extensions["celery"]
    deadline = time.monotonic() + 60
    while not celery.control.ping(timeout=1):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"celery worker did not start:\n{log.read_text()[-3000:]}")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
