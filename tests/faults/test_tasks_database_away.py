"""The worker's tasks with PostgreSQL refusing or hung behind a proxy: a failed ingest is
logged and counted, and the task still ends as handled, not with a traceback."""

from __future__ import annotations

import logging

import pytest

from backend import create_app
from tests.faults.conftest import migrated_behind_proxy
from tests.integration.conftest import make_pg_database  # noqa: F401
from tests.unit.test_metrics import sample

MARKET = "p2p:USDT/VES"


@pytest.fixture
def app_and_proxy(make_pg_database):  # noqa: F811
    settings, proxy = migrated_behind_proxy(make_pg_database(), [MARKET])
    yield create_app(settings), proxy
    proxy.close()


@pytest.mark.parametrize("mode", ["refuse", "hang"])
def test_ingest_with_the_database_away_logs_it_and_ends_cleanly(app_and_proxy, mode, caplog):
    """Recording the failure on the market's row needs the database too: it had raised
    out of the task, a traceback per market every tick while the database was away."""
    from tasks.market import ingest

    app, proxy = app_and_proxy
    proxy.set(mode)
    with app.app_context():
        for _ in range(4):  # past the database breaker's trip: Unavailable, not a timeout
            ingest.run(MARKET)  # never raises
    proxy.set("pass")
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failed and all(f"ingest {MARKET}" in r.getMessage() for r in failed)
    assert "the database is away" in caplog.text
    scrape = app.test_client().get("/api/v1/metrics").text
    assert sample(scrape, "market_ingest_errors_total", market=MARKET) >= 4
