"""What a trader does: execute an opportunity through its dialog at a size of their own,
watch it filled there with the realized profit, and follow the dialog's link to the
trade's detail on Trades."""

from __future__ import annotations

from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import grid_rows, login, screenshot


def wait_until(browser, seconds: float, condition, what: str):
    try:
        # the dialog re-renders as prices move: an element read mid-render is read again
        return WebDriverWait(
            browser, seconds, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition)
    except TimeoutException:
        text = browser.find_element(By.TAG_NAME, "body").text[:2000]
        raise AssertionError(f"waited {seconds} s for {what}; the page shows:\n{text}") from None


def open_execute_dialog(browser) -> None:
    """Click the first enabled Execute (the grid refreshes every 2 s: retry a stale one)."""
    for _ in range(10):
        try:
            WebDriverWait(browser, 45).until(
                ec.element_to_be_clickable((By.CSS_SELECTOR, "#opps-grid button.execute"))
            ).click()
            WebDriverWait(browser, 5).until(
                ec.visibility_of_element_located((By.ID, "execute-modal"))
            )
            return
        except (StaleElementReferenceException, TimeoutException):
            continue
    raise AssertionError("no Execute button could be clicked")


def test_execute_through_the_dialog_with_an_edited_size_until_filled(browser, embedded_desk):
    login(browser, embedded_desk.url, "trader", path="/opportunities")
    wait_until(browser, 45, lambda b: grid_rows(b, "opps-grid"), "an opportunity")
    screenshot(browser, "opportunities")
    for _ in range(5):  # an opportunity may vanish between display and confirm
        open_execute_dialog(browser)
        size = browser.find_element(By.ID, "execute-size")
        listed = wait_until(
            browser, 10, lambda b, size=size: size.get_attribute("value"), "the size"
        )
        before = wait_until(
            browser,
            10,
            lambda b: grid_rows(b, "legs-grid") or bool(b.find_elements(By.ID, "execute-gone")),
            "the legs at the listed size, or the opportunity gone",
        )
        if before is True:  # the books moved on before the dialog priced it: try another
            browser.find_element(By.ID, "execute-cancel").click()
            continue
        edited = str(int(float(listed) * 0.95))
        size.send_keys(Keys.CONTROL, "a")
        size.send_keys(edited)
        cannot_fill = f"The books cannot fill {int(edited):,}.00 USD."
        legs = wait_until(
            browser,
            10,
            lambda b, before=before, cannot_fill=cannot_fill: (
                cannot_fill in b.find_element(By.ID, "execute-profit").text
                or bool(b.find_elements(By.ID, "execute-gone"))
                or ((rows := grid_rows(b, "legs-grid")) and rows != before and rows)
            ),
            "the legs re-priced at the edited size, or the opportunity gone",
        )
        if legs is True:  # the books thinned or moved on: the dialog says so, try another
            assert not browser.find_element(By.ID, "execute-confirm").is_enabled()
            browser.find_element(By.ID, "execute-cancel").click()
            continue
        assert legs["1"]["paid"].replace(",", "").startswith(f"{edited}.00 USDT")
        assert {"market", "side", "method", "price", "paid", "received", "fee"} <= set(legs["1"])
        confirm = browser.find_element(By.ID, "execute-confirm")
        if not confirm.is_enabled():  # the books moved against it: try another
            browser.find_element(By.ID, "execute-cancel").click()
            continue
        confirm.click()
        status = wait_until(
            browser,
            30,
            lambda b: (
                ("refused" if b.find_elements(By.ID, "execute-error") else None)
                or (
                    (s := b.find_elements(By.ID, "execute-trade-status"))
                    and s[0].text in ("filled", "rejected", "failed")
                    and s[0].text
                )
            ),
            "the trade to reach a final status in the dialog, or its request refused",
        )
        if status == "refused":  # expired or used up between display and Confirm: says so
            assert browser.find_element(By.ID, "execute-error").text
            browser.find_element(By.ID, "execute-cancel").click()
            continue
        if status != "filled":
            assert browser.find_element(By.ID, "execute-reason").text  # says why
            browser.find_element(By.ID, "execute-cancel").click()
            continue
        realized = browser.find_element(By.ID, "execute-realized").text
        assert realized.startswith("Realized profit: ") and realized.endswith(" USD")
        assert float(realized.split(": ")[1].split()[0].replace(",", "")) > 0
        screenshot(browser, "execute")
        see_the_filled_trade_on_trades(browser)
        return
    raise AssertionError("no opportunity could be executed to filled in 5 attempts")


def see_the_filled_trade_on_trades(browser) -> None:
    """The dialog's link opens Trades on that trade: its legs, the ledger postings they
    made and its audit trail from requested to filled."""
    link = browser.find_element(By.ID, "execute-trade-link")
    trade_id = link.get_attribute("href").split("/trades?trade=")[1]
    assert f"Trade #{trade_id} " in browser.find_element(By.ID, "execute-modal").text
    link.click()
    detail = wait_until(
        browser, 15, lambda b: b.find_elements(By.ID, "trade-detail"), "the trade's detail"
    )[0]
    assert detail.find_element(By.TAG_NAME, "h2").text == f"Trade #{trade_id}"
    legs = detail.find_elements(By.CSS_SELECTOR, "#trade-legs tbody tr")
    assert [leg.find_element(By.TAG_NAME, "td").text for leg in legs] == [
        str(seq) for seq in range(1, len(legs) + 1)
    ]
    postings = detail.find_elements(By.CSS_SELECTOR, "#trade-postings tr")[1:]
    assert len(postings) >= 2 * len(legs)  # each leg paid out of one account, into another
    trail = [e.text for e in detail.find_elements(By.CSS_SELECTOR, "#trade-events li")]
    assert "∅ → requested" in trail[0] and " → filled" in trail[-1], trail
    browser.execute_script("arguments[0].scrollIntoView()", detail)
    screenshot(browser, "trade-detail")
