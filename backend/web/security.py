"""Cookies, CSRF, security headers, the reverse proxy and request throttling.

CSRF: Flask-WTF checks the login form and every state-changing request that rides on a
session cookie. Dash's renderer sends the ``_csrf_token`` cookie back as the
``X-CSRFToken`` header, so callbacks are protected without forking Dash; the cookie is
refreshed on every signed-in response. Bearer-token calls carry no ambient credential and
are exempt (the guard in ``auth`` decides which is which). The login cookie is written
only when the session changes, never to slide it: an answer that arrives late (an icon
fetched just before a log out) cannot bring an ended session back, and a file that sets
no cookie can be kept by a shared cache.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect, generate_csrf
from limits import parse
from werkzeug.middleware.proxy_fix import ProxyFix

from backend.config import Settings
from backend.web import throttle_storage  # noqa: F401  (registers desk+redis://)

log = logging.getLogger(__name__)

CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads

csrf = CSRFProtect()
limiter = Limiter(
    key_func=get_remote_address,
    headers_enabled=True,  # Retry-After and X-RateLimit-* on limited routes
    swallow_errors=True,  # a Redis outage must not turn logins into 500s
    in_memory_fallback_enabled=True,
)


def content_security_policy(script_hashes: list[str], frame_sources: list[str]) -> dict:
    """What Dash and Plotly need and nothing more: scripts from here plus the hashes of
    Dash's inline boot script; inline styles (Plotly and Dash components set them)."""
    return {
        "default-src": "'self'",
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": "'self'",
        "frame-src": ["'self'", *frame_sources] if frame_sources else "'none'",
        "frame-ancestors": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
    }


def init_app(app: Flask, settings: Settings) -> None:
    if settings.proxy_fix_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=settings.proxy_fix_hops,
            x_proto=settings.proxy_fix_hops,
            x_host=settings.proxy_fix_hops,
            x_prefix=settings.proxy_fix_hops,
        )
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="desk_session",
        PERMANENT_SESSION_LIFETIME=int(settings.session_hours * 3600),
        # the cookie expires when the login does (auth checks the login's time too)
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_CHECK_DEFAULT=False,  # the guard calls csrf.protect() where it applies
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session's life, which is bounded
        WTF_CSRF_SSL_STRICT=settings.secure_cookies,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        # Counters in Redis on the cache's connections and breaker, else in the process
        # without a sweeping thread per hit (throttle_storage).
        RATELIMIT_STORAGE_URI="desk+redis://" if settings.redis_url else "desk+memory://",
        RATELIMIT_STORAGE_OPTIONS={
            "cache": app.extensions["desk"].cache,
            "key_prefix": settings.redis_prefix + "limits",  # beside the desk's other keys
        }
        if settings.redis_url
        else {},
    )
    csrf.init_app(app)
    limiter.init_app(app)
    app.after_request(_refresh_csrf_cookie)


def init_headers(app: Flask, settings: Settings, script_hashes: list[str]) -> None:
    """Called once Dash has defined its inline scripts (their hashes go in the CSP)."""
    Talisman(
        app,
        force_https=False,  # TLS ends at the reverse proxy; it redirects
        strict_transport_security=settings.secure_cookies,
        session_cookie_secure=settings.secure_cookies,
        session_cookie_samesite="Lax",
        frame_options="SAMEORIGIN",
        content_security_policy=content_security_policy(
            script_hashes, [settings.grafana_url] if settings.grafana_url else []
        ),
        referrer_policy="same-origin",
    )


def _refresh_csrf_cookie(response: Response) -> Response:
    if g.get("auth_via") == "session" and current_user.is_authenticated:
        response.set_cookie(
            CSRF_COOKIE,
            generate_csrf(),
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=False,  # Dash's renderer reads it to send X-CSRFToken
            samesite="Lax",
        )
    return response


def trade_wait_seconds(username: str, rate: str) -> int | None:
    """None if ``username`` may request another trade now, else the seconds to wait.

    One budget per user for the API and the Execute button alike, kept in the limiter's
    storage (Redis when configured, so every web process counts together)."""
    item = parse(rate)
    try:
        if limiter.limiter.hit(item, "trade-requests", username):
            return None
        reset = limiter.limiter.get_window_stats(item, "trade-requests", username).reset_time
    except Exception as exc:  # the limiter's storage is down: do not block trading on it
        log.warning("trade throttle unavailable, allowing the request: %s", exc)
        return None
    return max(1, math.ceil(reset - time.time()))
