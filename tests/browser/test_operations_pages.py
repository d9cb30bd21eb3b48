"""Rates, Risk and System as the house uses them, on the whole embedded desk: copy the
clients' message, pause and resume trading as an admin (a viewer only reads), and see
every component's health."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import assert_fits, csp_violations, grid_rows, login, screenshot
from tests.browser.test_trader_flow import wait_until
from tests.conftest import web_only


def test_the_rates_board_quotes_every_corridor_and_copies_the_spanish_message(
    browser, embedded_desk
):
    login(browser, embedded_desk.url, "trader", path="/rates")
    wait_until(
        browser,
        30,
        lambda b: sum(r.get("state") == "live" for r in grid_rows(b, "rates-grid").values()) >= 4,
        "four live corridors",
    )
    # the README's width: every column in view
    assert_fits(
        browser,
        "#rates-grid .ag-center-cols-viewport",
        1366,
        900,
        "the rates grid fits without scrolling sideways",
    )
    rows = {r["corridor"]: r for r in grid_rows(browser, "rates-grid").values()}
    assert rows["COP → VES"]["client_rate"].endswith("VES/COP")
    shown = browser.find_element(By.ID, "rates-message").text
    assert shown.startswith("Tasas de cambio")
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {
            "origin": embedded_desk.url,
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
        },
    )
    browser.find_element(By.ID, "rates-copy").click()
    copied = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('error: ' + e));"
    )
    assert copied.startswith("Tasas de cambio") and "1 COP = " in copied
    screenshot(browser, "rates")
    assert csp_violations(browser) == []


def test_an_admin_pauses_and_resumes_trading_and_the_history_says_who_and_why(
    browser, embedded_desk
):
    login(browser, embedded_desk.url, "admin", embedded_desk.admin_password, path="/risk")
    state = lambda b: b.find_element(By.ID, "risk-state").text  # noqa: E731
    wait_until(browser, 15, lambda b: b.find_elements(By.ID, "risk-state"), "the kill switch")
    assert state(browser) == "Trading active"
    browser.find_element(By.ID, "risk-reason").send_keys("bank outage drill")
    browser.find_element(By.ID, "risk-pause").click()
    wait_until(browser, 10, lambda b: state(b) == "Trading paused", "trading paused")
    assert embedded_desk.get("/api/v1/controls").json()["controls"]["kill_switch"] == "true"
    reason = browser.find_element(By.ID, "risk-reason")
    wait_until(browser, 10, lambda b: reason.get_attribute("value") == "", "the reason cleared")
    wait_until(
        browser,
        10,
        lambda b: any(
            r.get("reason") == "bank outage drill" for r in grid_rows(b, "risk-history").values()
        ),
        "the change in the history",
    )
    try:
        change = next(
            r
            for r in grid_rows(browser, "risk-history").values()
            if r["reason"] == "bank outage drill"
        )
        assert (change["key"], change["new"], change["actor"]) == (
            "Kill switch", "Trading paused", "admin"
        )  # fmt: skip
        screenshot(browser, "risk")
    finally:  # the embedded desk is shared: never leave it paused for the next tests
        browser.find_element(By.ID, "risk-reason").send_keys("drill over")  # its own reason
        browser.find_element(By.ID, "risk-resume").click()
        wait_until(browser, 10, lambda b: state(b) == "Trading active", "trading resumed")
    assert embedded_desk.get("/api/v1/controls").json()["controls"]["kill_switch"] == "false"
    assert csp_violations(browser) == []


def test_a_viewer_reads_the_kill_switch_but_has_no_buttons(browser, embedded_desk):
    login(browser, embedded_desk.url, "viewer", path="/risk")
    WebDriverWait(browser, 15).until(ec.presence_of_element_located((By.ID, "risk-state")))
    assert browser.find_elements(By.ID, "risk-pause") == []
    assert "Only an admin" in browser.find_element(By.ID, "risk-readonly").text


def test_the_system_page_shows_every_component_and_a_live_worker(browser, embedded_desk):
    login(browser, embedded_desk.url, "viewer", path="/system")
    wait_until(
        browser,
        20,
        lambda b: "up" in b.find_element(By.ID, "system-celery").text,
        "celery up",
    )
    table = browser.find_element(By.ID, "system-components-table").text
    for name in ("Database", "Redis", "RabbitMQ", "Celery workers"):
        assert name in table
    assert "not configured" in browser.find_element(By.ID, "system-redis").text
    assert "alive" in browser.find_element(By.ID, "system-workers-table").text
    assert browser.find_element(By.ID, "system-no-panels")  # no GRAFANA_URL on this desk
    screenshot(browser, "system")
    assert csp_violations(browser) == []


def test_grafana_panels_are_embedded_when_grafana_url_is_set(browser, tmp_path, monkeypatch):
    """A stand-in Grafana (the real one is not on this machine) answers /d-solo/ panels:
    the System page frames them and the CSP lets exactly that origin in."""
    from pytest_httpserver import HTTPServer

    with HTTPServer(host="127.0.0.1") as grafana:
        grafana.expect_request("/d-solo/p2p-system-overview/_").respond_with_data(
            "<html><body>panel</body></html>", content_type="text/html"
        )
        monkeypatch.setenv("GRAFANA_URL", grafana.url_for("/").rstrip("/"))
        monkeypatch.setenv("PROMETHEUS_URL", "http://prometheus.example:9090")
        with web_only(tmp_path) as (url, _tokens):
            login(browser, url, "viewer", path="/system")
            frames = WebDriverWait(browser, 15).until(
                lambda b: b.find_elements(By.CSS_SELECTOR, "#system-panels iframe")
            )
            assert len(frames) == 4
            assert "/d-solo/p2p-system-overview/_?orgId=1" in frames[0].get_attribute("src")
            browser.switch_to.frame(frames[0])
            try:
                WebDriverWait(browser, 10).until(
                    lambda b: b.find_element(By.TAG_NAME, "body").text == "panel"
                )
            finally:
                browser.switch_to.default_content()
            links = browser.find_element(By.ID, "system-links")
            alerts = links.find_element(By.LINK_TEXT, "Prometheus alerts")
            assert alerts.get_attribute("href") == "http://prometheus.example:9090/alerts"
            assert csp_violations(browser) == []
