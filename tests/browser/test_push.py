"""With Redis the board is pushed, not polled: a price ingest commits is drawn at once
while the page's poll has slowed to its 15 s safety net."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from selenium.webdriver.common.by import By

from backend import push
from backend.cache import RedisCache
from backend.config import Settings
from backend.db import session_factory
from backend.market import ingest
from tests.browser.conftest import grid_rows, login
from tests.browser.test_trader_flow import wait_until
from tests.conftest import SERVICES, web_only
from tests.factories import ad, book


def test_a_committed_price_is_pushed_to_an_open_board(browser, tmp_path, monkeypatch):
    prefix = f"push-{uuid.uuid4().hex[:8]}:"
    monkeypatch.setenv("REDIS_URL", SERVICES["redis"])
    monkeypatch.setenv("REDIS_PREFIX", prefix)
    monkeypatch.setenv("MARKETS", "p2p:USDT/VES")
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}",
        redis_url=SERVICES["redis"],
        redis_prefix=prefix,
        markets="p2p:USDT/VES",
    )
    cache, sessions = RedisCache.from_settings(settings), None

    def commit(ask: str) -> None:
        b = book("p2p:USDT/VES", [ad(ask, 5000)], [ad("300", 5000)], datetime.now(UTC))
        with sessions.begin() as session:
            ingest.store(session, cache, settings, b, datetime.now(UTC))
        push.announce(cache, "prices", market="p2p:USDT/VES")

    with web_only(tmp_path) as (url, _tokens):
        sessions = session_factory(settings)
        commit("320.00")
        login(browser, url, "viewer")
        wait_until(browser, 15, lambda b: grid_rows(b, "prices-grid"), "the board")
        # The stream is open: the page's poll slows to its 15 s safety net.
        wait_until(
            browser,
            10,
            lambda b: b.find_elements(By.CSS_SELECTOR, '#prices-stream[data-live="true"]'),
            "the stream to open",
        )
        time.sleep(3)  # the next poll is 15 s away
        commit("412.34")
        started = time.monotonic()
        wait_until(
            browser,
            5,
            lambda b: grid_rows(b, "prices-grid")["p2p:USDT/VES"]["best_ask"] == "412.34 VES/USDT",
            "the pushed price",
        )
        assert time.monotonic() - started < 5  # well before the next poll
