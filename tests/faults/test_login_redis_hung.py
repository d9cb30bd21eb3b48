"""A login while Redis hangs costs at most one Redis timeout more than a healthy one, and
the failed-login throttle goes on counting (in each process's memory) meanwhile."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import TEST_PASSWORD, add_user, embedded_settings, prepared_app
from tests.faults.proxy import Proxy
from tests.integration.conftest import redis_url  # noqa: F401
from tests.unit.test_login import log_in

REDIS_TIMEOUT = 0.25


def timed_login(app, username, password=TEST_PASSWORD):
    client = app.test_client()
    started = time.monotonic()
    response = log_in(client, username, password)
    return response.status_code, time.monotonic() - started


@pytest.fixture
def hung_redis_app(tmp_path, redis_url):  # noqa: F811
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = Proxy(host, int(port))
    db = redis_url.rsplit("/", 1)[1]
    settings = embedded_settings(
        tmp_path,
        redis_url=f"redis://127.0.0.1:{proxy.port}/{db}",
        redis_prefix=f"hung-{uuid.uuid4().hex[:6]}:",
        redis_timeout_seconds=REDIS_TIMEOUT,
        secret_key="hung-redis-tests-secret",
    )
    app = prepared_app(settings)
    add_user(app.extensions["desk"], "ana", "trader")
    yield app, proxy
    proxy.close()


def test_a_login_with_redis_hung_costs_at_most_one_redis_timeout(hung_redis_app):
    app, proxy = hung_redis_app
    healthy = [timed_login(app, "ana") for _ in range(3)]
    assert all(code == 302 for code, _ in healthy)
    slowest_healthy = max(took for _, took in healthy)

    proxy.set("hang")
    code, took = timed_login(app, "ana")
    assert code == 302
    # was two 0.5 s timeouts of the limiter's own client whatever REDIS_TIMEOUT_SECONDS said
    assert took < slowest_healthy + REDIS_TIMEOUT + 0.3, f"{took:.2f} s with Redis hung"
    later = [timed_login(app, "ana") for _ in range(3)]  # the breaker is open: no wait
    assert all(code == 302 for code, _ in later)
    assert max(took for _, took in later) < slowest_healthy + 0.3


def test_failed_logins_are_still_throttled_while_redis_hangs(hung_redis_app):
    app, proxy = hung_redis_app
    proxy.set("hang")
    limit = int(app.extensions["desk"].settings.login_user_rate_limit.split("/")[0])
    codes = [timed_login(app, "ana", f"guess {i}")[0] for i in range(limit + 1)]
    assert codes == [401] * limit + [429]
