"""A Spanish-speaking trader: one click on ES turns the desk Spanish, numbers included,
and the choice follows them to their next login."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.browser.conftest import assert_fits, grid_rows, login, screenshot
from tests.browser.test_trader_flow import wait_until


def test_the_language_switch_turns_labels_and_numbers_spanish_and_sticks(browser, embedded_desk):
    login(browser, embedded_desk.url, "admin", embedded_desk.admin_password)
    try:
        browser.find_element(By.ID, "locale-es").click()
        wait_until(
            browser, 15, lambda b: b.find_element(By.ID, "nav-prices").text == "Precios", "ES"
        )
        title = wait_until(browser, 15, lambda b: b.find_elements(By.CSS_SELECTOR, "main h1"), "h1")
        assert title[0].text == "Precios"
        wait_until(browser, 15, lambda b: b.title == "Precios", "the tab's title in Spanish")
        assert browser.find_element(By.ID, "nav-trades").text == "Operaciones"
        assert browser.find_element(By.ID, "logout").text == "Cerrar sesión"
        headers = browser.find_elements(By.CSS_SELECTOR, "#prices-grid .ag-header-cell-text")
        assert "Mejor compra" in [h.text for h in headers]
        ves = wait_until(
            browser,
            30,
            lambda b: (
                (r := grid_rows(b, "prices-grid").get("p2p:USDT/VES"))
                and r["best_ask"] != "—"
                and r
            ),
            "USDT/VES priced",
        )
        # Spanish numbers: a comma before the decimals, points between thousands.
        number = ves["best_ask"].removesuffix(" VES/USDT")
        assert number[-3] == "," and "." not in number[-3:], number
        # longer headers, a page scrollbar: still fits
        assert_fits(
            browser,
            "#prices-grid .ag-body-horizontal-scroll-viewport",
            1366,
            768,
            "the Spanish prices grid fits without scrolling sideways",
        )
        screenshot(browser, "prices-es")
        login(browser, embedded_desk.url, "admin", embedded_desk.admin_password)
        assert browser.find_element(By.ID, "nav-prices").text == "Precios"  # it stuck
    finally:
        browser.find_element(By.ID, "locale-en").click()
        wait_until(
            browser, 15, lambda b: b.find_element(By.ID, "nav-prices").text == "Prices", "EN"
        )
