"""Celery signals -> log context: every line a task writes names the task, its id, the
web request that queued it (``request_id``, carried in a message header) and, for trade
execution, the trade; the request that queues a trade binds its id too. So one grep for
a trade or a request id follows it from the click to the fill."""

from __future__ import annotations

import structlog
from celery import signals

from backend.ops import logs

EXECUTE = "tasks.trading.execute"
REQUEST_HEADER = "desk_request_id"

log = structlog.get_logger("desk.tasks")


def _trade_id(args, kwargs) -> object:
    return args[0] if args else (kwargs or {}).get("trade_id")


def _published(sender=None, body=None, headers=None, **_):
    """In the publishing process (a web request, beat, another task)."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if headers is not None and request_id:
        headers[REQUEST_HEADER] = request_id
    if sender == EXECUTE and isinstance(body, tuple | list) and body:
        args, kwargs = body[0], body[1] if len(body) > 1 else {}
        logs.bind(trade_id=_trade_id(args, kwargs))
        log.info("trade queued", task_id=(headers or {}).get("id"))


def _prerun(task_id=None, task=None, args=None, kwargs=None, **_):
    logs.clear()
    context = {"task_id": task_id, "task": task.name}
    request_id = getattr(task.request, REQUEST_HEADER, None) or (task.request.headers or {}).get(
        REQUEST_HEADER
    )
    if request_id:
        context["request_id"] = request_id
    if task.name == EXECUTE:
        context["trade_id"] = _trade_id(args, kwargs)
    logs.bind(**context)


def _no_celery_logging(**_):
    """Connected, so Celery leaves logging as ``logs.configure`` set it up."""


def connect() -> None:
    signals.setup_logging.connect(_no_celery_logging, weak=False, dispatch_uid="desk-logs")
    signals.before_task_publish.connect(_published, weak=False, dispatch_uid="desk-log-publish")
    signals.task_prerun.connect(_prerun, weak=False, dispatch_uid="desk-log-prerun")
