"""A dependency that is away answers 503 naming it, never a 500.

The JSON API and Dash callbacks alike get ``{"error": "...", "status": 503, "component":
"db"}`` with ``Retry-After`` (a page gets the same message as HTML). In the browser,
``dashboard/assets/outage.js`` shows a callback's 503 message over the page, and the
health banner says what is down from the monitor's last results.
"""

from __future__ import annotations

import logging

import kombu.exceptions
import redis
import sqlalchemy.exc
from flask import Flask, jsonify, request

from backend.resilience import Unavailable
from backend.web import errors
from backend.web.errors import json_wanted

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
WHAT = {
    "db": "the database is not answering",
    "redis": "Redis is not answering",
    "rabbitmq": "the message broker is not answering",
}


def component_of(exc: BaseException) -> str | None:
    """Which dependency ``exc`` says is away, or None if it is not an outage."""
    if isinstance(exc, Unavailable):
        return exc.component
    if isinstance(
        exc,
        sqlalchemy.exc.OperationalError
        | sqlalchemy.exc.TimeoutError
        | sqlalchemy.exc.DisconnectionError,
    ):
        return "db"
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return "redis"
    if isinstance(exc, kombu.exceptions.OperationalError):
        return "rabbitmq"
    return None


def _outage(exc: Exception):
    component = component_of(exc)
    detail = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
    log.warning("outage: %s on %s %s: %s", component, request.method, request.path[:200], detail)
    message = f"{WHAT.get(component, component)}; try again shortly ({detail})"
    if json_wanted():
        response = jsonify(error=message, status=503, component=component)
    else:
        response = errors.page(503, message)
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    for exc_type in (
        Unavailable,
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.TimeoutError,
        sqlalchemy.exc.DisconnectionError,
        redis.ConnectionError,
        redis.TimeoutError,
        kombu.exceptions.OperationalError,
    ):
        app.register_error_handler(exc_type, _outage)
