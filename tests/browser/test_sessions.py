"""Logins as people use them: a viewer sees Execute disabled and why, logging out returns
to the login, and no page breaks the Content-Security-Policy."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import csp_violations, forget_cookies, login
from tests.browser.test_trader_flow import wait_until

PAGES = ["/", "/opportunities", "/trades", "/rates", "/risk", "/system", "/markets/p2p/USDT-VES"]


def test_a_viewer_sees_execute_disabled_with_the_reason(browser, embedded_desk):
    login(browser, embedded_desk.url, "viewer", path="/opportunities")
    button = wait_until(
        browser,
        60,
        lambda b: (
            (found := b.find_elements(By.CSS_SELECTOR, "#opps-grid button.execute")) and found[0]
        ),
        "an opportunity to show",
    )
    assert not button.is_enabled()
    assert "trader role" in button.get_attribute("title")
    reason = browser.find_element(By.ID, "execute-why-not").text
    assert "Executing needs the trader role; your role is viewer." in reason


def test_logging_out_returns_to_the_login_and_closes_the_desk(browser, embedded_desk):
    login(browser, embedded_desk.url, "trader", path="/trades")
    assert "trader · trader" in browser.find_element(By.ID, "whoami").text
    browser.find_element(By.ID, "logout").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "login-form"))
    browser.get(embedded_desk.url + "/trades")
    assert browser.find_elements(By.ID, "login-form")
    assert browser.current_url.endswith("/login?next=/trades")


def test_a_wrong_password_says_so_on_the_login_page(browser, embedded_desk):
    forget_cookies(browser)
    browser.get(embedded_desk.url + "/login")
    for _try in (1, 2):  # a late answer of the last page can make the first "expired" (login)
        name = browser.find_element(By.ID, "username")
        name.clear()
        name.send_keys("trader")
        browser.find_element(By.ID, "password").send_keys("not the password")
        form = browser.find_element(By.ID, "login-form")
        browser.find_element(By.ID, "login-submit").click()
        WebDriverWait(browser, 10).until(ec.staleness_of(form))  # the answer's page, not this
        error = WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "login-error"))
        if "expired" not in error[0].text:
            break
    assert "Wrong user name or password" in error[0].text


def test_no_page_breaks_the_content_security_policy(browser, embedded_desk):
    csp_violations(browser)  # forget what earlier tests logged
    forget_cookies(browser)
    browser.get(embedded_desk.url + "/login")
    assert csp_violations(browser) == []
    login(browser, embedded_desk.url, "trader")
    for path in PAGES:
        browser.get(embedded_desk.url + path)
        wait_until(browser, 20, lambda b: b.find_elements(By.CSS_SELECTOR, "main h1"), path)
        browser.execute_script("return new Promise(r => setTimeout(r, 2500))")
        assert csp_violations(browser) == [], path


def test_the_desk_fits_a_laptop_and_folds_its_menu_on_a_phone(browser, embedded_desk):
    login(browser, embedded_desk.url, "trader")
    try:
        for width, height in ((1366, 768), (390, 844)):
            browser.set_window_size(width, height)
            for path in PAGES:
                browser.get(embedded_desk.url + path)
                wait_until(browser, 20, lambda b: b.find_elements(By.CSS_SELECTOR, "main h1"), path)
                overflow = browser.execute_script(
                    "return document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 0, f"{path} is {overflow} px wider than {width} px"
        toggle = browser.find_element(By.CLASS_NAME, "navbar-toggler")
        assert toggle.is_displayed()  # the links fold behind it at 390 px
        toggle.click()
        wait_until(
            browser, 5, lambda b: b.find_element(By.ID, "nav-trades").is_displayed(), "the menu"
        )
    finally:
        browser.set_window_size(1440, 900)
