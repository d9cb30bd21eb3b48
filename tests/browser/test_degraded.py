"""A desk whose worker is not running says so on every page, instead of looking fine."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import login
from tests.conftest import web_only


def test_a_missing_worker_puts_a_banner_over_the_desk(browser, tmp_path):
    with web_only(tmp_path) as (url, _tokens):
        login(browser, url, "viewer", path="/trades")
        banner = WebDriverWait(browser, 20).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "#health-banner .banner")
        )[0]
        assert "celery is down" in banner.text
        assert "trades will not execute" in banner.text
