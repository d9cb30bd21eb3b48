"""A stranded trade on the Trades page, in Chromium: a trader retries its unwind, then an
admin closes it holding with a reason and sees it ``closed``. The trade is stranded the
way the domain strands one: requested, its first leg filled, then its unwind stopped."""

from __future__ import annotations

from decimal import Decimal

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from backend.market import ingest
from backend.models import Opportunity, Trade
from backend.trading import trades
from tasks.arbitrage import scan
from tests.browser.conftest import grid_rows, login
from tests.browser.test_trader_flow import wait_until
from tests.conftest import api_client, embedded_settings, prepared_app, web_only
from tests.unit.conftest import crossed_books, strand
from tests.unit.test_unwind_execution import stopped_after_leg_1


def stranded_on(home) -> tuple[int, object]:
    """A stranded trade in the served desk's database; its id and the desk."""
    app = prepared_app(embedded_settings(home))
    desk = app.extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        for b in crossed_books(now):
            ingest.store(session, desk.cache, desk.settings, b, now)
    with app.app_context():
        assert scan.run() == 1
    with desk.sessions() as session:
        opportunity = session.query(Opportunity).one()
    trade_id = stopped_after_leg_1(api_client(app, "trader"), desk, opportunity)
    strand(desk, trade_id)
    return trade_id, desk


def open_detail(browser, url: str, user: str, trade_id: int):
    login(browser, url, user, path="/trades")
    wait_until(
        browser, 20, lambda b: grid_rows(b, "trades-grid").get("0", {}).get("id"), "the trade row"
    )
    browser.get_log("browser")  # from here on, only what the detail and its buttons do
    browser.find_element(By.CSS_SELECTOR, "#trades-grid .ag-row[row-index='0'] .ag-cell").click()
    return wait_until(
        browser,
        10,
        lambda b: b.find_elements(By.ID, "trade-actions"),
        f"the buttons of stranded trade #{trade_id}",
    )[0]


def press(browser, button) -> None:
    """Click a button once it is in the middle of the window (the detail sits below the
    grid, under the window's bottom edge)."""
    browser.execute_script(  # Bootstrap scrolls smoothly: a click mid-way lands elsewhere
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button
    )
    button.click()


def pattern_button(browser, kind: str):
    return browser.find_element(By.XPATH, f"//button[contains(@id, '\"{kind}\"')]")


def test_a_trader_retries_and_an_admin_closes_a_stranded_trade_holding(browser, tmp_path):
    with web_only(tmp_path, users=[("tina", "trader"), ("ada", "admin")]) as (url, _tokens):
        trade_id, desk = stranded_on(tmp_path)

        actions = open_detail(browser, url, "tina", trade_id)
        close_off = actions.find_element(By.ID, "trade-close-off")
        assert not close_off.is_enabled()
        assert "Closing holding needs the admin role; your role is trader." in actions.text
        press(browser, pattern_button(browser, "trade-retry"))
        result = wait_until(
            browser, 15, lambda b: b.find_elements(By.ID, "trade-action-result"), "the retry"
        )[0]
        assert f"Trade #{trade_id}: unwind sent to the worker." in result.text
        wait_until(
            browser,
            10,
            lambda b: "unwind retried by tina" in b.find_element(By.ID, "trade-events").text,
            "the retry in the audit trail",
        )

        actions = open_detail(browser, url, "ada", trade_id)
        assert not actions.find_elements(By.ID, "trade-actions-why-not")  # an admin may do both
        press(browser, pattern_button(browser, "trade-close"))
        reason = WebDriverWait(browser, 10).until(
            lambda b: [e for e in b.find_elements(By.ID, "close-reason") if e.is_displayed()]
        )[0]
        assert (
            browser.find_element(By.ID, "close-title").text
            == f"Close trade #{trade_id} holding what it bought"
        )
        browser.find_element(By.ID, "close-confirm").click()  # no reason yet: refused
        refused = wait_until(
            browser, 10, lambda b: b.find_elements(By.ID, "close-refused"), "the refusal"
        )[0]
        assert "Give a reason of 1 to 500 characters" in refused.text
        with desk.sessions() as session:
            assert session.get(Trade, trade_id).status == "stranded"

        reason.send_keys("kept the VES for tomorrow's buy")
        browser.find_element(By.ID, "close-confirm").click()
        result = wait_until(
            browser,
            15,
            lambda b: [
                e for e in b.find_elements(By.ID, "trade-action-result") if "closed" in e.text
            ],
            "the close",
        )[0]
        assert result.text.startswith(f"Trade #{trade_id} closed, profit -1,000.00 USD.")
        detail = browser.find_element(By.ID, "trade-detail")
        assert detail.find_element(By.CSS_SELECTOR, ".badge.closed").text == "closed"
        assert not browser.find_elements(By.ID, "trade-actions")  # no buttons once closed
        wait_until(  # the detail re-renders at the trade's new version: read it once it has
            browser,
            10,
            lambda b: (
                "kept the VES for tomorrow's buy" in b.find_element(By.ID, "trade-events").text
            ),
            "the reason in the audit trail",
        )
        wait_until(
            browser,
            10,
            lambda b: grid_rows(b, "trades-grid")["0"]["status"] == "closed",
            "the grid's row closed",
        )
        with desk.sessions() as session:
            trade = session.get(Trade, trade_id)
            assert (trade.status, trade.profit_usd) == ("closed", Decimal("-1000"))
            last = trades.events(session, trade_id)[-1]
            assert (last.actor, last.to_status) == ("ada", "closed")
        console = [e["message"] for e in browser.get_log("browser")]
        assert [m for m in console if "Content Security Policy" in m] == []
        assert [m for m in console if "_dash-update" in m] == []  # no callback failed
        assert console == []
