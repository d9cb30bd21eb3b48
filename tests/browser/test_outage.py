"""The database goes away under a trader's open page: the page says so, names it, and
the message goes once the database is back (a real Chromium, PostgreSQL behind a proxy)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import login
from tests.faults.conftest import behind, proxy_for
from tests.integration.conftest import make_pg_database, rabbitmq_url, redis_url  # noqa: F401
from tests.livedesk import drop_vhost, fresh_vhost, start_live_desk


@pytest.fixture
def desk_and_db(tmp_path, make_pg_database, redis_url, rabbitmq_url):  # noqa: F811
    database = make_pg_database()
    db = proxy_for(database)
    vhost = fresh_vhost(rabbitmq_url.rsplit("/", 1)[0])
    desk = start_live_desk(
        tmp_path, behind(db, database), redis_url, vhost, worker=False, beat=False,
        extra_env={"REDIS_PREFIX": "browser-outage:"},
    )  # fmt: skip
    yield desk, db
    desk.stop_all()
    db.close()
    drop_vhost(vhost)


def alert(browser) -> str | None:
    found = browser.find_elements(By.ID, "outage-alert")
    return found[0].text if found and found[0].is_displayed() else None


def test_a_database_outage_is_named_on_the_page_until_it_is_back(browser, desk_and_db):
    desk, db = desk_and_db
    login(browser, desk.url, "live", path="/trades")
    WebDriverWait(browser, 15).until(lambda b: b.find_elements(By.ID, "trades-grid"))
    assert alert(browser) is None
    db.set("cut")
    WebDriverWait(browser, 30).until(lambda b: alert(b))
    text = alert(browser)
    assert "database is not answering" in text and "last data" in text
    db.set("pass")
    WebDriverWait(browser, 60).until(lambda b: alert(b) is None)
