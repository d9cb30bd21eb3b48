"""Every page, for every role, loads and refreshes without an error in the browser's
console: no failed callback (a 4xx/5xx on /_dash-update-component), no script error."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import login
from tests.browser.test_trader_flow import wait_until

PAGES = [
    "/",
    "/markets/p2p/USDT-VES",
    "/opportunities",
    "/trades",
    "/rates",
    "/risk",
    "/system",
]
REFRESHES = 6  # seconds on each page: its 2 s and 5 s refreshes run at least once


def severe(browser) -> list[str]:
    """SEVERE console entries since the last call (a failed request logs one)."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
def test_every_page_loads_and_refreshes_without_a_console_error(browser, embedded_desk, role):
    password = {"admin": embedded_desk.admin_password}.get(role)
    login(browser, embedded_desk.url, role, *([password] if password else []))
    severe(browser)  # the login page's own entries are not a page's
    found = {}
    for path in PAGES:
        browser.get(embedded_desk.url + path)
        wait_until(browser, 15, lambda b: b.find_elements(By.TAG_NAME, "h1"), f"{path} shown")
        time.sleep(REFRESHES)
        if errors := severe(browser):
            found[path] = errors
    assert found == {}
