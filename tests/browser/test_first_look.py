"""What a person sees first on a fresh desk, before any trade: the login and error pages
name an icon the desk serves, an empty Trades grid says what to do, the Rates grid fits a
1366 px window and System gives no latency for a component it never probes."""

from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.browser.conftest import assert_fits, forget_cookies, login
from tests.browser.test_trader_flow import wait_until
from tests.conftest import web_only


@pytest.fixture(scope="module")
def fresh_desk(tmp_path_factory):
    with web_only(tmp_path_factory.mktemp("fresh")) as (url, _tokens):
        yield url


def test_the_login_and_404_pages_name_an_icon_the_desk_serves(browser, fresh_desk):
    """Else Chromium asks for /favicon.ico, a 404 logged as a console error."""
    forget_cookies(browser)
    browser.get(f"{fresh_desk}/login")
    wait_until(browser, 15, lambda b: b.find_elements(By.ID, "username"), "login page")
    icons = [browser.execute_script("return document.querySelector('link[rel=icon]')?.href")]
    login(browser, fresh_desk, "viewer")
    browser.get(f"{fresh_desk}/no-such-page")
    wait_until(browser, 15, lambda b: b.find_elements(By.ID, "error-page"), "404 page")
    icons.append(browser.execute_script("return document.querySelector('link[rel=icon]')?.href"))
    assert None not in icons, icons
    assert [requests.get(icon, timeout=10).status_code for icon in icons] == [200, 200]


def test_an_empty_trades_grid_says_how_trades_get_there(browser, fresh_desk):
    login(browser, fresh_desk, "viewer", path="/trades")
    overlay = wait_until(
        browser,
        20,
        lambda b: b.find_elements(By.CSS_SELECTOR, "#trades-grid .ag-overlay-no-rows-center"),
        "the empty grid's message",
    )
    assert "execute one from Opportunities" in overlay[0].text


def test_the_rates_grid_fits_a_1366_px_window(browser, fresh_desk):
    login(browser, fresh_desk, "viewer", path="/rates")
    wait_until(
        browser,
        20,
        lambda b: b.find_elements(By.CSS_SELECTOR, "#rates-grid .ag-header-cell"),
        "grid",
    )
    assert_fits(
        browser,
        "#rates-grid .ag-center-cols-viewport",
        1366,
        768,
        "every column inside the grid's width",
    )


def test_system_gives_no_latency_for_a_component_it_does_not_probe(browser, fresh_desk):
    login(browser, fresh_desk, "viewer", path="/system")
    redis = wait_until(
        browser,
        20,
        lambda b: (
            (row := b.find_elements(By.ID, "system-redis"))
            and "not configured" in row[0].text
            and row[0]
        ),
        "Redis row",
    )
    cells = [td.text for td in redis.find_elements(By.TAG_NAME, "td")]
    assert cells[2] == "—", cells


def test_a_spanish_viewer_is_told_the_role_in_spanish(browser, fresh_desk):
    login(browser, fresh_desk, "viewer", path="/opportunities")
    browser.find_element(By.ID, "locale-es").click()
    try:
        reason = wait_until(
            browser,
            20,
            lambda b: (
                (e := b.find_elements(By.ID, "execute-why-not-text"))
                and "su rol es" in e[0].text
                and e[0].text
            ),
            "the Spanish reason",
        )
        assert reason.endswith("su rol es observador."), reason
    finally:
        browser.find_element(By.ID, "locale-en").click()
        wait_until(
            browser, 15, lambda b: b.find_element(By.ID, "nav-prices").text == "Prices", "EN"
        )
