"""Structured logs from every process (web, worker, beat, commands), through structlog.

``LOG_FORMAT=json`` (the default) writes one JSON object a line; ``console`` writes
aligned, coloured lines for people (``make run``). Every line carries the context bound
for the request or task that wrote it, so one grep follows a trade from click to fill:

- web: ``request_id`` (the caller's ``X-Request-ID`` if sane, else a new one, echoed in
  the response), ``user``, ``method``, ``path``; one ``request`` line per answer;
- worker: ``task_id``, ``task``, the ``request_id`` of the request that queued it, and
  ``trade_id`` for trade execution (see ``tasks.signals``);
- anyone: ``bind(trade_id=..., ...)`` adds keys to every later line of the current
  request or task; ``bound(...)`` does so for a ``with`` block only;
- ``trace_id``/``span_id`` of the current OpenTelemetry span, when tracing is on.

Standard ``logging`` records (Flask, Celery, gunicorn, our modules) get the same treatment.
No secret is written: values under keys that name a secret are replaced, passwords in
URLs and bearer tokens are masked wherever they appear; any value longer than
MAX_VALUE characters is cut.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from timeit import default_timer

import structlog
from flask import Flask, g, request
from opentelemetry import trace

from backend.config import Settings

MAX_VALUE = 2000
REDACTED = "[redacted]"
SECRET_KEY = re.compile(r"pass|secret|token|authorization|cookie|api_?key|credential", re.I)
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@", re.I)
BEARER = re.compile(r"(\bBearer\s+)[^\s\"',]+", re.I)
HANDLER_NAME = "desk"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

log = structlog.get_logger("desk.web")


def bind(**values: object) -> None:
    """Add ``values`` to every later log line of the current request or task."""
    structlog.contextvars.bind_contextvars(**values)


def unbind(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*keys)


@contextmanager
def bound(**values: object) -> Iterator[None]:
    """``values`` on every log line inside the ``with`` block only."""
    with structlog.contextvars.bound_contextvars(**values):
        yield


def clear() -> None:
    """Forget the context: a new request or task starts with none."""
    structlog.contextvars.clear_contextvars()


def scrub(value: object) -> object:
    """Mask passwords in URLs and bearer tokens; cut oversized values."""
    if not isinstance(value, str):
        if isinstance(value, int | float | bool) or value is None:
            return value
        value = str(value)
    value = BEARER.sub(r"\1" + REDACTED, URL_PASSWORD.sub(r"\1***@", value))
    if len(value) > MAX_VALUE:
        value = f"{value[:MAX_VALUE]}… [{len(value) - MAX_VALUE} more characters cut]"
    return value


def _scrub(_logger, _name, event: dict) -> dict:
    if event.get("message") == event.get("event"):  # the stdlib record's copy of the text
        del event["message"]
    for key, value in event.items():
        if key == "exception" and isinstance(value, str) and len(value) > MAX_VALUE:
            value = "… " + value[-MAX_VALUE:]  # a traceback's end says what went wrong
        event[key] = REDACTED if SECRET_KEY.search(key) else scrub(value)
    return event


def _trace_ids(_logger, _name, event: dict) -> dict:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def _chain() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_ids,
        structlog.processors.format_exc_info,
        _scrub,
    ]


def formatter(log_format: str) -> logging.Formatter:
    """The formatter every handler uses (gunicorn's too, through its logconfig_dict)."""
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.__stderr__.isatty())
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_chain(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def configure(settings: Settings) -> None:
    """Route structlog and standard logging through one handler on stderr; idempotent."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            *_chain(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    # The process's own stderr: Celery swaps sys.stderr for a proxy that logs what it is
    # given, which would log our lines back into this handler.
    handler = logging.StreamHandler(sys.__stderr__)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter(settings.log_format))
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    logging.captureWarnings(True)  # warnings too become structured lines (py.warnings)


def gunicorn_logconfig(log_format: str, level: str) -> dict:
    """gunicorn's own loggers (start, stop, worker deaths) in the same format."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"desk": {"()": formatter, "log_format": log_format}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "desk",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": []},  # the app adds its own in create_app
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


def _request_id() -> str:
    sent = request.headers.get("X-Request-ID", "")
    return sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def _begin_request() -> None:
    clear()
    g.request_started = default_timer()
    g.request_id = _request_id()
    bind(request_id=g.request_id, method=request.method, path=request.path[:200])


def _who() -> None:
    """After the guard: the user it loaded (never loads one itself: public routes stay
    free of database reads)."""
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        bind(user=user.username)


def _end_request(response):
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
        log.info(
            "request",
            status=response.status_code,
            duration_ms=round((default_timer() - g.request_started) * 1000, 1),
        )
    return response


def init_app(app: Flask) -> None:
    """Request context for the web's log lines, and one ``request`` line per answer."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_request)
    app.before_request(_who)
    app.after_request(_end_request)
    app.teardown_request(lambda _exc: clear())
