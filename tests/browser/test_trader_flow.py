"""What a trader does: watch prices, execute an opportunity, see it filled — no reload."""

from __future__ import annotations

import os

from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def rows(browser, css: str) -> list:
    return browser.find_elements(By.CSS_SELECTOR, css)


def test_the_prices_page_shows_live_prices_for_every_market(browser, embedded_desk):
    browser.get(embedded_desk.url + "/")
    WebDriverWait(browser, 20).until(
        lambda b: len(rows(b, "#prices-grid tr.market-row.live")) >= 8)
    first = rows(browser, "#prices-grid tr.market-row")[0].text
    assert "USDT/VES" in first
    WebDriverWait(browser, 10).until(
        lambda b: rows(b, "#prices-grid tr.market-row")[0].text != first)  # it moves
    WebDriverWait(browser, 15).until(lambda b: not rows(b, "#health-banner .banner"))
    if os.environ.get("DESK_SCREENSHOT"):
        browser.save_screenshot(os.environ["DESK_SCREENSHOT"])


def accept_confirm(browser) -> bool:
    try:
        WebDriverWait(browser, 5).until(ec.alert_is_present())
        browser.switch_to.alert.accept()
        return True
    except (TimeoutException, NoAlertPresentException):
        return False


def test_execute_asks_for_confirmation_and_the_trade_shows_filled_without_reload(
        browser, embedded_desk):
    browser.get(embedded_desk.url + "/opportunities")
    browser.execute_script("window.__sameDocument = true")
    for _ in range(5):  # an opportunity may expire between display and click
        button = WebDriverWait(browser, 45).until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, "#opps-grid button.execute")))
        button.click()
        if not accept_confirm(browser):
            continue
        try:
            link = WebDriverWait(browser, 10).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, "#execute-ok a")))
        except TimeoutException:
            continue
        trade = link.text  # "#12"
        link.click()  # client-side navigation to the Trades page
        row = f"//table[@id='trades-grid']//tr[td[1][normalize-space()='{trade}']]"
        WebDriverWait(browser, 30).until(lambda b, row=row: b.find_elements(
            By.XPATH, row + "//span[contains(@class,'badge')][text()!='queued' and "
            "text()!='requested' and text()!='executing']"))
        status = browser.find_element(By.XPATH, row + "//span[contains(@class,'badge')]").text
        if status != "filled":
            browser.get(embedded_desk.url + "/opportunities")
            browser.execute_script("window.__sameDocument = true")
            continue
        cells = browser.find_elements(By.XPATH, row + "/td")
        assert float(cells[7].text.replace(",", "")) > 0  # realized profit
        assert browser.execute_script("return window.__sameDocument === true")
        assert browser.current_url.endswith("/trades")
        return
    raise AssertionError("no opportunity could be executed to filled in 5 attempts")
