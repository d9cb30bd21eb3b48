"""The Prices board as a trader uses it: live prices for every market, a ticket size that
reprices the board, and a market's detail with its depth, candles and ads."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.browser.conftest import grid_rows, login, screenshot
from tests.browser.test_trader_flow import wait_until


def live(browser) -> dict[str, dict[str, str]]:
    rows = grid_rows(browser, "prices-grid")
    return {
        key: cells
        for key, cells in rows.items()
        if browser.find_elements(By.CSS_SELECTOR, f'#prices-grid [row-id="{key}"] .badge.live')
    }


def pick_size(browser, label: str) -> None:
    browser.find_element(
        By.XPATH, f"//div[@id='ticket-size']//label[normalize-space()='{label}']"
    ).click()


def test_the_board_shows_live_prices_for_every_market_and_they_move(browser, embedded_desk):
    login(browser, embedded_desk.url, "trader")
    first = wait_until(browser, 30, lambda b: (r := live(b)) and len(r) >= 8 and r, "8 live")
    assert first["p2p:USDT/VES"]["label"] == "USDT/VES"
    assert first["p2p:USDT/VES"]["best_ask"].endswith(" VES/USDT")
    assert first["spot:BTC/USDT"]["bid_depth"].endswith(" BTC")
    # Advertisers re-price every few seconds: within 20 s (a loaded machine polls
    # slower) most markets move.
    wait_until(
        browser,
        20,
        lambda b: sum(first[k] != v for k, v in grid_rows(b, "prices-grid").items()) >= 6,
        "the prices of six markets to change",
    )
    screenshot(browser, "prices")


def test_a_bigger_ticket_size_reprices_the_board(browser, embedded_desk):
    login(browser, embedded_desk.url, "trader")
    wait_until(browser, 30, lambda b: len(live(b)) >= 8, "8 live markets")
    pick_size(browser, "100 USD")
    small = wait_until(
        browser,
        10,
        lambda b: (
            "100 USD ticket" in b.find_element(By.ID, "prices-hint").text
            and grid_rows(b, "prices-grid")
        ),
        "the board at 100 USD",
    )
    pick_size(browser, "5,000 USD")
    big = wait_until(
        browser,
        10,
        lambda b: (
            "5,000 USD ticket" in b.find_element(By.ID, "prices-hint").text
            and grid_rows(b, "prices-grid")
        ),
        "the board at 5,000 USD",
    )
    # A 5,000 USD ticket walks deeper into each book: a different effective price (or
    # none at all) on most markets.
    changed = [
        k
        for k in big
        if (big[k]["eff_ask"], big[k]["eff_bid"]) != (small[k]["eff_ask"], small[k]["eff_bid"])
    ]
    assert len(changed) >= 6, (small, big)
    browser.find_element(By.ID, "nav-rates").click()  # away and back: the pick is kept
    wait_until(browser, 10, lambda b: b.find_elements(By.ID, "rates-size"), "the rates page")
    browser.find_element(By.ID, "nav-prices").click()
    wait_until(
        browser,
        10,
        lambda b: "5,000 USD ticket" in b.find_element(By.ID, "prices-hint").text,
        "the board still at 5,000 USD",
    )


def test_a_market_opens_with_its_depth_candles_and_ads(browser, embedded_desk):
    login(browser, embedded_desk.url, "trader")
    wait_until(browser, 30, lambda b: len(live(b)) >= 8, "8 live markets")
    browser.find_element(
        By.CSS_SELECTOR, '#prices-grid [row-id="p2p:USDT/VES"] a.grid-link'
    ).click()
    wait_until(browser, 10, lambda b: b.current_url.endswith("/markets/p2p/USDT-VES"), "the URL")
    title = wait_until(browser, 15, lambda b: b.find_elements(By.ID, "market-title"), "the title")
    assert title[0].text == "USDT/VES"
    ads = wait_until(browser, 15, lambda b: grid_rows(b, "ads-grid"), "the ads")
    sides = {cells["side"] for cells in ads.values()}
    assert sides == {"sells to us", "buys from us"}
    some = next(iter(ads.values()))
    assert some["price"].endswith("VES/USDT") and some["quantity"].endswith("USDT")
    assert some["finish_rate"].endswith("%")
    methods = grid_rows(browser, "methods-grid")
    assert len(methods) >= 2  # the simulator's VES ads take several banks
    traces = browser.execute_script(
        "return document.querySelectorAll('#depth-chart .scatterlayer .trace').length"
    )
    assert traces == 2  # cumulative bids and asks
    screenshot(browser, "market")
    browser.get(embedded_desk.url + "/markets/p2p/DOGE-XYZ")
    assert "404" in browser.find_element(By.TAG_NAME, "h1").text
