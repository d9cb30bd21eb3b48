"""A real Debian Chromium driven by Selenium against the running embedded desk."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import TEST_PASSWORD


def pytest_collection_modifyitems(items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail(
            "Chromium is not installed: apt-get install chromium chromium-driver "
            "(.ci/run does this)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1440,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP reports land here
    drv = webdriver.Chrome(options=options, service=Service(driver))
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


def forget_cookies(browser) -> None:
    """Leave the page, then drop every cookie (desks on other ports of 127.0.0.1 share
    them). An answer the page had under way may still set its cookie again: ``login``
    allows for that."""
    browser.get("about:blank")
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})


def login(browser, base_url: str, username: str, password: str = TEST_PASSWORD, path="/"):
    """Through the login page, as a person does; lands on ``path``.

    An answer the last page still had under way can set its session cookie again after
    ``forget_cookies`` (Chromium applies a response's cookies even once the page that asked
    is gone). The form then says it expired and, as a person would, is sent once more: the
    form shown again carries a token for that cookie. The pages' kept picks (ticket size,
    method) are forgotten, as in a browser that never opened the desk."""
    forget_cookies(browser)
    browser.get(f"{base_url}/login?next={path}")
    browser.execute_script("window.localStorage.clear()")  # each test a fresh browser's picks
    for _try in (1, 2):
        name = browser.find_element(By.ID, "username")
        name.clear()
        name.send_keys(username)
        browser.find_element(By.ID, "password").send_keys(password)
        form = browser.find_element(By.ID, "login-form")
        browser.find_element(By.ID, "login-submit").click()
        try:
            WebDriverWait(browser, 15).until(ec.staleness_of(form))  # never read this page
            WebDriverWait(browser, 15).until(
                lambda b: (
                    (b.current_url == base_url + path and b.find_elements(By.ID, "whoami"))
                    or b.find_elements(By.ID, "login-error")
                )
            )
        except TimeoutException:
            break
        if not browser.find_elements(By.ID, "login-error"):
            return
    error = browser.find_elements(By.ID, "login-error")
    pytest.fail(
        f"{username} did not land on {path}: at {browser.current_url}"
        + (f', told "{error[0].text}"' if error else ""),
        pytrace=False,
    )


def csp_violations(browser) -> list[str]:
    """Console entries since the last call that report a Content-Security-Policy block."""
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]


def screenshot(browser, name: str) -> None:
    """With DESK_SCREENSHOTS=docs/screenshots, save the whole page as it looks now in a
    1366 px wide window (README)."""
    folder = os.environ.get("DESK_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = browser.get_window_size()
    browser.set_window_size(1366, 900)
    time.sleep(1)  # charts and grids re-lay themselves out to the new width
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1366, min(height + 140, 2400))  # + the window's own frame
    time.sleep(1)
    try:
        browser.save_screenshot(str(Path(folder) / f"{name}.png"))
    finally:
        browser.set_window_size(size["width"], size["height"])


def grid_rows(browser, grid_id: str) -> dict[str, dict[str, str]]:
    """An AG Grid's rendered rows, read atomically: row id -> column id -> cell text
    (pinned and scrolling parts of a row joined)."""
    return browser.execute_script(
        """
        const out = {};
        document.querySelectorAll('#' + arguments[0] + ' .ag-row').forEach(r => {
          const key = r.getAttribute('row-id');
          out[key] = out[key] || {};
          r.querySelectorAll('.ag-cell').forEach(c => {
            out[key][c.getAttribute('col-id')] = c.innerText.trim();
          });
        });
        return out;
        """,
        grid_id,
    )


def assert_fits(browser, selector: str, width: int, height: int, what: str, box="self"):
    """At a ``width`` x ``height`` window, the element ``selector`` (or, with
    ``box="parent"``, its scroll wrapper) shows all it holds without scrolling sideways.
    Waits for the element to render and re-lay out (a page may still be loading after a
    navigation); puts the window back either way."""
    size = browser.get_window_size()
    browser.set_window_size(width, height)
    script = (
        "const e = document.querySelector(arguments[0]);"
        "const v = e && (arguments[1] === 'parent' ? e.parentElement : e);"
        "return v !== null && v.scrollWidth <= v.clientWidth + 1;"
    )
    try:
        WebDriverWait(browser, 15).until(lambda b: b.execute_script(script, selector, box))
    except TimeoutException:
        text = browser.find_element(By.TAG_NAME, "body").text[:2000]
        raise AssertionError(f"{what} at {width} px; the page shows:\n{text}") from None
    finally:
        browser.set_window_size(size["width"], size["height"])
