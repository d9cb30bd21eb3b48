"""The trader's pages as a trader reads them in Spanish, on a laptop and on a phone: the
date picker wears the dark theme, Risk's cards start at their title, the Opportunities
grid, Rates and Risk's balances fit 390 px, corridors are written one way, and a bad
filter or size is explained in Spanish."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import assert_fits, grid_rows, login
from tests.browser.test_trader_flow import open_execute_dialog, wait_until

PHONE = (390, 844)
LIGHTNESS = """
const c = getComputedStyle(arguments[0]).backgroundColor.match(/[\\d.]+/g).map(Number);
return c.length > 3 && c[3] === 0 ? null : (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]);
"""


def background(browser, element) -> float:
    """Luminance 0-255 of the first ancestor (or itself) that paints a background."""
    while element.tag_name != "html":
        value = browser.execute_script(LIGHTNESS, element)
        if value is not None:
            return value
        element = element.find_element(By.XPATH, "..")
    return browser.execute_script(LIGHTNESS, element)


@pytest.fixture
def spanish_trader(browser, embedded_desk):
    login(browser, embedded_desk.url, "trader")
    browser.find_element(By.ID, "locale-es").click()
    wait_until(browser, 15, lambda b: b.find_element(By.ID, "nav-prices").text == "Precios", "ES")
    yield embedded_desk.url
    browser.set_window_size(1440, 900)
    browser.get(embedded_desk.url + "/")  # no dialog or calendar left open over the switch
    wait_until(browser, 15, lambda b: b.find_elements(By.ID, "locale-en"), "the switch")
    browser.find_element(By.ID, "locale-en").click()  # the choice sticks to the user
    wait_until(browser, 15, lambda b: b.find_element(By.ID, "nav-prices").text == "Prices", "EN")


def test_the_trades_date_picker_and_its_calendar_are_dark(browser, spanish_trader):
    browser.get(spanish_trader + "/trades")
    field = wait_until(
        browser,
        20,
        lambda b: b.find_elements(By.ID, "trades-dates"),
        "the date picker",
    )[0]
    assert background(browser, field) < 60  # the page's dark panel, not white
    field.click()
    calendar = wait_until(
        browser,
        10,
        lambda b: b.find_elements(By.CSS_SELECTOR, ".dash-datepicker-content"),
        "the calendar",
    )[0]
    assert background(browser, calendar) < 60
    day = calendar.find_element(By.CSS_SELECTOR, "td.dash-datepicker-calendar-date-inside")
    assert browser.execute_script("return getComputedStyle(arguments[0]).color", day) != (
        "rgba(0, 9, 38, 0.9)"  # Dash's dark text on its white calendar
    )
    field.send_keys(Keys.ESCAPE)


def test_risk_cards_begin_with_their_title(browser, spanish_trader):
    browser.get(spanish_trader + "/risk")
    wait_until(browser, 20, lambda b: b.find_elements(By.ID, "risk-limits-table"), "the limits")
    gaps = browser.execute_script(
        "return [...document.querySelectorAll('main .card')].map(c =>"
        " c.querySelector('h2').getBoundingClientRect().top - c.getBoundingClientRect().top);"
    )
    assert gaps and max(gaps) <= 20, gaps  # the card's padding, no empty band above


def legs_or_gone(browser):
    """The Execute dialog priced its legs, or said its opportunity is gone."""
    return grid_rows(browser, "legs-grid") or browser.find_elements(By.ID, "execute-gone")


def test_opportunities_rates_and_balances_fit_a_phone(browser, spanish_trader):
    browser.get(spanish_trader + "/opportunities")
    wait_until(browser, 40, lambda b: grid_rows(b, "opps-grid"), "an opportunity")
    assert_fits(browser, "#opps-grid .ag-center-cols-viewport", *PHONE, "the opportunities")
    browser.set_window_size(*PHONE)
    try:
        wait_until(  # the route, the profit and Execute stay on a phone
            browser,
            10,
            lambda b: {"route", "profit"} <= set(next(iter(grid_rows(b, "opps-grid").values()))),
            "the phone's columns",
        )
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        )
    finally:
        browser.set_window_size(1440, 900)
    for _ in range(5):  # an opportunity may be gone by the time its dialog prices it
        open_execute_dialog(browser)  # each leg's side, pay and receive, no sideways scroll
        wait_until(browser, 15, legs_or_gone, "the legs, or the opportunity gone")
        if grid_rows(browser, "legs-grid"):
            break
        browser.find_element(By.ID, "execute-cancel").click()
    assert_fits(browser, "#legs-grid .ag-center-cols-viewport", *PHONE, "the Execute legs")
    browser.set_window_size(*PHONE)
    try:  # a leg in one wrapped cell: side, market, bank, price and fee stay in view

        def phone_leg(b):
            first = next(iter(grid_rows(b, "legs-grid").values()), {})
            return "side" not in first and first.get("leg")

        leg = wait_until(browser, 10, phone_leg, "each leg in one cell")
        lines = leg.splitlines()
        assert lines[0].startswith("1. ") and len(lines) == 4, leg  # side · market · bank
        assert lines[2].startswith("Pagamos ") and "Comisión" in lines[3], leg
    finally:
        browser.set_window_size(1440, 900)
    browser.find_element(By.ID, "execute-cancel").click()
    browser.get(spanish_trader + "/rates")
    wait_until(browser, 30, lambda b: grid_rows(b, "rates-grid"), "the rates")
    assert_fits(browser, "#rates-grid .ag-center-cols-viewport", *PHONE, "the rates")
    browser.get(spanish_trader + "/risk")
    wait_until(browser, 20, lambda b: b.find_elements(By.ID, "risk-balances-table"), "balances")
    assert_fits(browser, "#risk-balances-table", *PHONE, "the balances", box="parent")
    browser.set_window_size(*PHONE)
    try:
        floor = browser.find_element(By.CSS_SELECTOR, "#risk-balances-table td:nth-child(3)")
        label = browser.execute_script(  # each value names its column on a phone
            "return getComputedStyle(arguments[0], '::before').content", floor
        )
        assert floor.is_displayed() and label == '"Mínimo"', label
    finally:
        browser.set_window_size(1440, 900)


def test_corridors_are_written_one_way_on_rates(browser, spanish_trader):
    browser.get(spanish_trader + "/rates")
    rows = wait_until(browser, 30, lambda b: grid_rows(b, "rates-grid"), "the rates")
    corridors = [r["corridor"] for r in rows.values()]
    assert "COP → VES" in corridors and not [c for c in corridors if "->" in c], corridors
    message = browser.find_element(By.ID, "rates-message").text
    assert "->" not in message


def test_a_bad_user_filter_and_a_bad_size_are_explained_in_spanish(browser, spanish_trader):
    browser.get(spanish_trader + "/trades")
    user = wait_until(browser, 20, lambda b: b.find_elements(By.ID, "trades-user"), "filters")[0]
    user.send_keys("x", Keys.ENTER)  # one character: no login name
    said = wait_until(
        browser, 15, lambda b: b.find_elements(By.ID, "trades-refused"), "the refusal"
    )[0]
    assert said.text.startswith("el usuario es un nombre de acceso"), said.text
    browser.get(spanish_trader + "/opportunities")
    wait_until(browser, 40, lambda b: grid_rows(b, "opps-grid"), "an opportunity")
    for _ in range(5):  # an opportunity may be gone by the time its dialog prices it
        open_execute_dialog(browser)
        size = browser.find_element(By.ID, "execute-size")
        size.send_keys(Keys.CONTROL, "a")
        size.send_keys("2000000")  # over the 1,000,000 USD a trade may be
        said = wait_until(
            browser,
            15,
            lambda b: (e := b.find_elements(By.ID, "execute-size-error")) and e[0].text,
            "the size's refusal",
        )
        assert said.startswith("el monto debe ser como máximo"), said
        size.send_keys(Keys.CONTROL, "a")
        size.send_keys("1.250,5")  # Spanish marks: a number field had read 1.2505 or 12505
        read = wait_until(
            browser,
            15,
            lambda b: (
                "1.250,50 USD" in b.find_element(By.ID, "execute-profit").text
                or ("gone" if b.find_elements(By.ID, "execute-gone") else False)
            ),
            "the size read as 1.250,50 USD, or the opportunity gone",
        )
        browser.find_element(By.ID, "execute-cancel").click()
        if read is True:
            return
    raise AssertionError("every opportunity was gone before its dialog read the size")
