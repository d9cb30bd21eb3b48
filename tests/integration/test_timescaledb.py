"""The TimescaleDB path of the migration, on a server that has the extension preloaded.

No package registry here carries TimescaleDB, so CI's PostgreSQL lacks it and this test
is skipped there (saying why); set TIMESCALEDB_ADMIN_URL (e.g. a local build on
postgresql://postgres@127.0.0.1:5433/postgres) to run it. Everything else runs on plain
PostgreSQL, which is the fallback the desk must support anyway.
"""

import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy import text

from backend import migrate
from backend.cache import LocalCache
from backend.config import Settings
from backend.db import get_engine, session_factory
from backend.market import ingest
from backend.market.candles import minute_candles
from tests import candle_check
from tests.factories import ad, book

ADMIN = os.environ.get("TIMESCALEDB_ADMIN_URL")
pytestmark = pytest.mark.skipif(
    not ADMIN, reason="TIMESCALEDB_ADMIN_URL not set: no TimescaleDB server on this machine"
)


@pytest.fixture
def timescale_settings():
    name = f"desk_ts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    settings = Settings(_env_file=None, database_url=url, secret_key="migrations-tests-only")
    yield settings
    get_engine(settings).dispose()
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_hypertables_policies_and_candles_on_timescaledb(timescale_settings):
    migrate.upgrade(timescale_settings)
    engine = get_engine(timescale_settings)
    with engine.connect() as conn:
        tables = set(
            conn.execute(
                text("SELECT hypertable_name FROM timescaledb_information.hypertables")
            ).scalars()
        )
        jobs = set(
            conn.execute(text("SELECT proc_name FROM timescaledb_information.jobs")).scalars()
        )
    assert tables == {"price_ticks", "ad_snapshots"}
    assert {"policy_retention", "policy_compression", "policy_refresh_continuous_aggregate"} <= jobs

    sessions, cache = session_factory(timescale_settings), LocalCache()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for seconds, mid in [(0, 100), (30, 110), (65, 105)]:
        at = now - timedelta(minutes=5) + timedelta(seconds=seconds)
        with sessions.begin() as session:
            ingest.store(
                session,
                cache,
                timescale_settings,
                book("p2p:USDT/VES", [ad(mid + 1, 900)], [ad(mid - 1, 900)], fetched_at=at),
                at,
            )
    with sessions() as session:
        candles = minute_candles(session, "p2p:USDT/VES", now - timedelta(minutes=10))
    assert [(c.open, c.high, c.close) for c in candles] == [
        (Decimal(100), Decimal(110), Decimal(110)),
        (Decimal(105), Decimal(105), Decimal(105)),
    ]
    desk = SimpleNamespace(sessions=sessions, cache=cache, settings=timescale_settings)
    candle_check.check_coarse(desk, "p2p:USDT/COP")  # folded from the continuous aggregate

    migrate.downgrade(timescale_settings, "base")
    migrate.upgrade(timescale_settings)
