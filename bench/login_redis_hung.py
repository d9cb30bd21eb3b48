"""Login latency with Redis hung (a TCP proxy that forwards nothing) vs healthy.

Each trial builds a fresh app on SQLite whose Redis is reached through the proxy, logs in
three times with Redis healthy, hangs the proxy, then logs in four times: the first pays
whatever the hung Redis costs, the others show the steady state. Prints medians over the
trials, in seconds.

    TEST_REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python -m bench.login_redis_hung 5
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.conftest import TEST_PASSWORD, add_user, embedded_settings, prepared_app
from tests.faults.proxy import Proxy
from tests.unit.test_login import log_in


def login_seconds(app) -> float:
    started = time.monotonic()
    assert log_in(app.test_client(), "ana", TEST_PASSWORD).status_code == 302
    return time.monotonic() - started


def trial(redis_url: str) -> tuple[float, float, float]:
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = Proxy(host, int(port))
    try:
        settings = embedded_settings(
            Path(tempfile.mkdtemp()),
            redis_url=f"redis://127.0.0.1:{proxy.port}/{redis_url.rsplit('/', 1)[1]}",
            redis_prefix=f"bench-{uuid.uuid4().hex[:6]}:",
            secret_key="login-redis-hung-bench",
        )
        app = prepared_app(settings)
        add_user(app.extensions["desk"], "ana", "trader")
        healthy = statistics.median(login_seconds(app) for _ in range(3))
        proxy.set("hang")
        first = login_seconds(app)
        steady = statistics.median(login_seconds(app) for _ in range(3))
        return healthy, first, steady
    finally:
        proxy.close()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
    results = [trial(url) for _ in range(runs)]
    healthy, first, steady = (statistics.median(col) for col in zip(*results, strict=True))
    print(f"runs={runs} healthy={healthy:.3f} hung_first={first:.3f} hung_steady={steady:.3f}")
    print(f"first login's extra with Redis hung: {first - healthy:.3f} s")


if __name__ == "__main__":
    main()
