"""A desk nothing has happened on yet, read in Spanish: each empty part says so in the
reader's language instead of showing a blank grid, English, or axes over nothing."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.browser.conftest import assert_fits, login
from tests.browser.test_trader_flow import wait_until
from tests.conftest import web_only

SPANISH_MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


def test_a_fresh_desk_says_what_is_empty_in_spanish(browser, tmp_path):
    with web_only(tmp_path) as (url, _tokens):
        login(browser, url, "viewer", path="/risk")
        browser.find_element(By.ID, "locale-es").click()
        wait_until(browser, 15, lambda b: b.find_element(By.ID, "nav-risk").text == "Riesgo", "ES")
        wait_until(
            browser,
            15,
            lambda b: (
                "Aún no se ha cambiado ningún control."
                in b.find_element(By.ID, "risk-history").text
            ),
            "the empty control history, in Spanish",
        )
        # a phone: each limit's use in view, no scrolling
        assert_fits(browser, "#risk-limits-table", 390, 844, "the limits fit", box="parent")
        browser.get(url + "/trades")
        wait_until(
            browser,
            15,
            lambda b: (
                "Aún no hay operaciones liquidadas en esta selección"
                in b.find_element(By.ID, "trades-pnl").text
            ),
            "the empty profit chart saying so",
        )
        # every column in view, Spanish headers too
        assert_fits(
            browser,
            "#trades-grid .ag-body-horizontal-scroll-viewport",
            1366,
            900,
            "the trades grid fits without scrolling sideways",
        )
        # the calendar names its months in the desk's language, not the browser's (English)
        assert browser.execute_script("return document.documentElement.lang") == "es"
        browser.find_element(By.ID, "trades-dates").click()
        month = wait_until(
            browser,
            15,
            lambda b: (
                (e := b.find_elements(By.CSS_SELECTOR, ".dash-datepicker-calendar-month-header"))
                and e[0].text
            ),
            "the calendar",
        )
        assert month.split()[0] in SPANISH_MONTHS, month
        browser.get(url + "/system")
        redis = wait_until(
            browser, 15, lambda b: b.find_elements(By.ID, "system-redis"), "the Redis row"
        )[0]
        cells = [td.text for td in redis.find_elements(By.TAG_NAME, "td")]
        assert cells[1:3] == ["sin configurar", "—"], cells  # no probe, so no latency
