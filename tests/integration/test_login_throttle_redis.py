"""With Redis configured, every web process counts failed logins together."""

from __future__ import annotations

from backend import create_app
from tests.conftest import add_user
from tests.unit.test_login import log_in


def test_two_web_processes_share_one_failed_login_budget(service_app, service_settings):
    other = create_app(service_settings)  # what a second gunicorn worker builds
    add_user(service_app.extensions["desk"], "shared-budget", "trader")
    limit = int(service_settings.login_user_rate_limit.split("/")[0])
    first, second = service_app.test_client(), other.test_client()
    codes = [
        log_in(first if i % 2 else second, "shared-budget", f"guess {i}").status_code
        for i in range(limit + 1)
    ]
    assert codes == [401] * limit + [429]
