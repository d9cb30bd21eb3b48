"""A live desk whose PostgreSQL, Redis and RabbitMQ are each reached through a TCP proxy
of ours, so a test can hang or cut one while the shared services stay up for everyone."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
import redis

from backend import migrate
from backend.config import Settings
from tests.faults.proxy import Proxy

# The integration tests' service fixtures (fresh database, Redis, RabbitMQ checks).
from tests.integration.conftest import (  # noqa: F401
    TEST_SECRET,
    make_pg_database,
    rabbitmq_url,
    redis_url,
)
from tests.livedesk import drop_vhost, fresh_vhost, start_live_desk


def pytest_collection_modifyitems(items):
    for item in items:
        if "/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.services)


def behind(proxy: Proxy, url: str) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()


def proxy_for(url: str) -> Proxy:
    parts = urlsplit(url)
    return Proxy(parts.hostname, parts.port)


def migrated_behind_proxy(database: str, markets: list[str]) -> tuple[Settings, Proxy]:
    """Settings of a desk (no Redis, no RabbitMQ) on ``database`` reached through a
    proxy the test can cut or hang, its schema migrated; close the proxy after."""
    proxy = proxy_for(database)
    settings = Settings(
        _env_file=None,
        database_url=behind(proxy, database),
        secret_key=TEST_SECRET,
        redis_url=None,
        rabbitmq_url=None,
        markets=markets,
    )
    migrate.upgrade(settings)
    return settings, proxy


@pytest.fixture(scope="module")
def proxied_desk(tmp_path_factory, make_pg_database, redis_url, rabbitmq_url):  # noqa: F811
    """(desk, proxies by component, direct URLs): web with 2 app threads, worker, beat."""
    database = make_pg_database()
    vhost = fresh_vhost(rabbitmq_url.rsplit("/", 1)[0])
    proxies = {
        "db": proxy_for(database),
        "redis": proxy_for(redis_url),
        "rabbitmq": proxy_for(vhost),
    }
    prefix = f"faults-{uuid.uuid4().hex[:6]}:"
    desk = start_live_desk(
        tmp_path_factory.mktemp("faults"),
        behind(proxies["db"], database),
        behind(proxies["redis"], redis_url),
        behind(proxies["rabbitmq"], vhost),
        web_threads=2,
        # Books stay tradeable through the seconds a fault lasts, so a request made while
        # the broker is cut is stored and must be queued later, not refused as stale.
        extra_env={"REDIS_PREFIX": prefix, "STALE_AFTER_SECONDS": "120"},
    )
    direct = {"db": database, "redis": redis_url, "rabbitmq": vhost, "prefix": prefix}
    yield desk, proxies, direct
    desk.stop_all()
    for proxy in proxies.values():
        proxy.close()
    drop_vhost(vhost)
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
