"""People log in with a form: CSRF on the form and on every callback, a session that
ends with a new password, throttled guessing, and no secret in any log or error page."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from backend.models import AuthEvent
from backend.web import users
from tests.conftest import TEST_PASSWORD, add_token, add_user, api_client
from tests.unit.test_access import PRICES


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def log_in(client, username, password=TEST_PASSWORD, next_path="/"):
    token = csrf_from(client.get(f"/login?next={next_path}").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_path},
    )


def csrf_cookie(client) -> str:
    return client.get_cookie("_csrf_token").value


@pytest.fixture
def trader(app, desk):
    add_user(desk, "tina", "trader")
    return app.test_client()


def test_a_login_lands_where_the_trader_was_going(trader):
    r = log_in(trader, "tina", next_path="/trades")
    assert r.status_code == 302 and r.headers["Location"] == "/trades"
    assert trader.get("/trades").status_code == 200
    assert trader.get("/api/v1/prices").status_code == 200  # the session works for JSON too


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\\\evil.example", "javascript:x"]
)
def test_next_can_never_leave_the_desk(trader, target):
    r = log_in(trader, "tina", next_path=target)
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_session_cookies_are_httponly_and_samesite_lax(trader):
    r = log_in(trader, "tina")
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("desk_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_wrong_password_is_refused_and_recorded(app, desk, trader):
    r = log_in(trader, "tina", "not the password")
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    assert trader.get("/api/v1/prices").status_code == 401
    with desk.sessions() as session:
        kinds = [(e.kind, e.username) for e in session.query(AuthEvent).order_by(AuthEvent.id)]
    assert ("login_failed", "tina") in kinds


@pytest.mark.parametrize("username,password", [("t" * 65, TEST_PASSWORD), ("tina", "p" * 257)])
def test_an_over_long_name_or_password_is_a_wrong_login_not_an_expired_form(
    trader, username, password
):
    r = log_in(trader, username, password)
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    assert trader.get("/api/v1/prices").status_code == 401


def test_the_login_form_needs_its_csrf_token(trader):
    r = trader.post("/login", data={"username": "tina", "password": TEST_PASSWORD})
    assert r.status_code == 400
    assert trader.get("/api/v1/prices").status_code == 401


@pytest.mark.parametrize("body", ['"x"', "1", "[[1, 2, 3]]", '{"username": "tina"}'])
def test_a_json_login_body_is_a_400_not_a_crash(trader, body):
    token = csrf_from(trader.get("/login").text)
    r = trader.post(
        "/login",
        data=body,
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert r.status_code == 400 and "Traceback" not in r.text
    assert trader.get("/api/v1/prices").status_code == 401


def test_a_callback_post_without_the_csrf_token_is_refused(trader):
    log_in(trader, "tina")
    r = trader.post("/_dash-update-component", json=PRICES)
    assert r.status_code == 400 and "CSRF" in r.json["error"]
    ok = trader.post(
        "/_dash-update-component", json=PRICES, headers={"X-CSRFToken": csrf_cookie(trader)}
    )
    assert ok.status_code == 200


def test_a_write_on_the_session_needs_csrf_but_a_token_call_does_not(app, desk):
    add_user(desk, "adam", "admin")
    browser = app.test_client()
    log_in(browser, "adam")
    body = {"kill_switch": False, "reason": "test"}
    assert browser.post("/api/v1/controls", json=body).status_code == 400
    assert api_client(app, "admin").post("/api/v1/controls", json=body).status_code == 200


def test_a_new_password_or_a_disabled_user_ends_open_sessions(app, desk, trader):
    log_in(trader, "tina")
    assert trader.get("/api/v1/prices").status_code == 200
    with desk.sessions.begin() as session:
        users.set_password(session, "tina", "a brand new password", actor="t", now=desk.now())
    assert trader.get("/api/v1/prices").status_code == 401
    log_in(trader, "tina", "a brand new password")
    assert trader.get("/api/v1/prices").status_code == 200
    with desk.sessions.begin() as session:
        users.set_disabled(session, "tina", True, actor="t", now=desk.now())
    assert trader.get("/api/v1/prices").status_code == 401
    assert log_in(trader, "tina", "a brand new password").status_code == 401


def test_logout_needs_a_post_with_csrf_and_ends_the_session(trader):
    log_in(trader, "tina")
    assert trader.get("/logout").status_code == 405
    trader.get("/_dash-layout")  # sets the CSRF cookie the page's forms also carry
    r = trader.post("/logout", data={"csrf_token": csrf_cookie(trader)})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert trader.get("/").status_code == 302


def test_a_session_copied_before_the_log_out_is_refused_after_it(app, trader):
    """The cookie is signed, not stored: logging out must end it on the server too, here
    and in the user's other browsers."""
    log_in(trader, "tina")
    other = app.test_client()
    log_in(other, "tina")
    copied = trader.get_cookie("desk_session").value
    trader.get("/_dash-layout")
    assert trader.post("/logout", data={"csrf_token": csrf_cookie(trader)}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("desk_session", copied)
    assert replay.get("/_dash-layout").status_code == 401
    assert other.get("/_dash-layout").status_code == 401
    assert log_in(trader, "tina").status_code == 302  # a new login works at once
    assert trader.get("/_dash-layout").status_code == 200


def session_cookies(response) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith("desk_session=")]


def test_a_late_public_answer_cannot_undo_a_log_out(trader):
    """The browser fetches the icon with the session cookie, the person logs out, then the
    icon's answer arrives: it must not carry the old session back."""
    log_in(trader, "tina")
    trader.get("/_dash-layout")  # the first signed-in answer stores the CSRF token
    assert session_cookies(trader.get("/_dash-layout")) == []  # later ones leave it be
    for path in ("/_favicon.ico", "/assets/style.css", "/api/v1/health", "/login"):
        assert session_cookies(trader.get(path)) == [], path
    r = trader.post("/logout", data={"csrf_token": csrf_cookie(trader)})
    assert session_cookies(r)  # the log out itself does clear it


def test_a_login_lasts_session_hours_however_busy_the_trader(desk, trader, monkeypatch):
    log_in(trader, "tina")
    start, hours = desk.now(), desk.settings.session_hours
    for part in (0.5, 0.99):  # busy all the while: no answer extends the login
        monkeypatch.setattr(desk, "now", lambda p=part: start + timedelta(hours=hours * p))
        assert trader.get("/api/v1/prices").status_code == 200
    monkeypatch.setattr(desk, "now", lambda: start + timedelta(hours=hours, seconds=1))
    r = trader.get("/api/v1/prices")
    assert r.status_code == 401
    assert r.json["error"] == "the session has ended (a login lasts 12 h); log in again"
    assert trader.get("/trades").headers["Location"] == "/login?next=/trades"
    assert log_in(trader, "tina").status_code == 302  # a new login lasts another 12 h
    assert trader.get("/api/v1/prices").status_code == 200


def test_a_session_from_before_logins_were_dated_must_log_in_again(app, trader):
    log_in(trader, "tina")
    with trader.session_transaction() as session:
        del session["signed_in_at"]
    assert trader.get("/api/v1/prices").status_code == 401


def test_repeated_failed_logins_get_429_with_retry_after(app, desk, trader):
    limit = int(desk.settings.login_user_rate_limit.split("/")[0])
    codes = [log_in(trader, "tina", f"guess {i}").status_code for i in range(limit + 1)]
    assert codes == [401] * limit + [429]
    r = log_in(trader, "tina")  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_passwords_and_tokens_never_reach_the_logs_or_error_pages(app, desk, caplog):
    caplog.set_level(logging.DEBUG)
    add_user(desk, "tina", "trader")
    token = add_token(desk, "tina")
    client = app.test_client()
    secret_guess = "hunter2-but-longer"
    pages = [log_in(client, "tina", secret_guess).text, log_in(client, "tina").text]
    headers = {"Authorization": f"Bearer {token}x"}
    pages.append(client.get("/api/v1/prices", headers=headers).text)
    pages.append(client.get("/api/v1/prices", headers={"Authorization": f"Bearer {token}"}).text)
    pages.append(client.post("/api/v1/trades", json={"size": TEST_PASSWORD}, headers=headers).text)
    text = caplog.text + "".join(pages)
    for secret in (secret_guess, TEST_PASSWORD, token):
        assert secret not in text
    assert "failed login" in caplog.text  # the logs do say what happened
