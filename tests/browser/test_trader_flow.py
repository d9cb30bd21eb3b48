"""What a trader does: watch prices, execute an opportunity, see it filled — no reload."""

from __future__ import annotations

from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import grid_rows, login


def wait_until(browser, seconds: float, condition, what: str):
    try:
        return WebDriverWait(browser, seconds).until(condition)
    except TimeoutException:
        text = browser.find_element(By.TAG_NAME, "body").text[:2000]
        raise AssertionError(f"waited {seconds} s for {what}; the page shows:\n{text}") from None


def final_row(browser, trade: str) -> dict[str, str] | None:
    """The trade's cells once its status is final, else None."""
    rows = grid_rows(browser, "trades-grid").values()
    row = next((r for r in rows if f"#{r.get('id')}" == trade), None)
    return row if row and row["status"] in ("filled", "rejected", "failed") else None


def accept_confirm(browser) -> bool:
    try:
        WebDriverWait(browser, 5).until(ec.alert_is_present())
        browser.switch_to.alert.accept()
        return True
    except (TimeoutException, NoAlertPresentException):
        return False


def test_execute_asks_for_confirmation_and_the_trade_shows_filled_without_reload(
    browser, embedded_desk
):
    login(browser, embedded_desk.url, "trader", path="/opportunities")
    browser.execute_script("window.__sameDocument = true")
    for _ in range(5):  # an opportunity may expire between display and click
        try:  # the table re-renders every 2 s: a button can go stale under the cursor
            WebDriverWait(browser, 45).until(
                ec.element_to_be_clickable((By.CSS_SELECTOR, "#opps-grid button.execute"))
            ).click()
        except StaleElementReferenceException:
            continue
        if not accept_confirm(browser):
            continue
        try:
            link = WebDriverWait(browser, 10).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, "#execute-ok a"))
            )
        except TimeoutException:
            continue
        trade = link.text  # "#12"
        link.click()  # client-side navigation to the Trades page
        final = wait_until(
            browser,
            30,
            lambda b, trade=trade: final_row(b, trade),
            f"trade {trade} to reach a final status",
        )
        if final["status"] != "filled":
            browser.get(embedded_desk.url + "/opportunities")
            browser.execute_script("window.__sameDocument = true")
            continue
        assert float(final["profit_usd"].split()[0].replace(",", "")) > 0  # realized profit
        assert browser.execute_script("return window.__sameDocument === true")
        assert browser.current_url.endswith("/trades")
        return
    raise AssertionError("no opportunity could be executed to filled in 5 attempts")
