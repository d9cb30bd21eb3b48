"""Celery signals -> the celery_* metrics, counted in whichever process runs the task."""

from __future__ import annotations

import time

from celery import signals
from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from backend.ops import baseline, metrics

_started: dict[str, float] = {}


def _prerun(task_id=None, task=None, **_):
    _started[task_id] = time.perf_counter()
    metrics.CELERY_TASKS_ACTIVE.labels(task=task.name).inc()


def _postrun(task_id=None, task=None, state=None, **_):
    start = _started.pop(task_id, None)
    metrics.CELERY_TASKS_ACTIVE.labels(task=task.name).dec()
    metrics.CELERY_TASKS.labels(task=task.name, state=state or "UNKNOWN").inc()
    if start is not None:
        metrics.CELERY_TASK_DURATION.labels(task=task.name).observe(time.perf_counter() - start)


def _retry(request=None, **_):
    metrics.CELERY_TASK_RETRIES.labels(task=request.task).inc()


def _serve_metrics(sender=None, **_):
    """A worker in its own container exposes its children's metrics on WORKER_METRICS_PORT."""
    port = sender.app.conf.get("desk_worker_metrics_port")
    if port:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(int(port), registry=registry)


def _zero_task_series(sender=None, **_):
    """Each process that runs tasks starts every desk task's series at 0."""
    from celery import current_app

    baseline.zero_tasks(name for name in current_app.tasks if name.startswith("tasks."))


def _first_heartbeat(sender=None, **_):
    """Health should not wait for beat's first tick to see a worker that is already up."""
    sender.app.send_task("tasks.heartbeat.beat")


def connect() -> None:
    """Idempotent: dispatch_uid keeps repeated app creation from double counting."""
    signals.worker_init.connect(_serve_metrics, weak=False, dispatch_uid="desk-metrics-server")
    signals.worker_process_init.connect(_zero_task_series, weak=False, dispatch_uid="desk-zero")
    signals.worker_ready.connect(_first_heartbeat, weak=False, dispatch_uid="desk-heartbeat")
    signals.task_prerun.connect(_prerun, weak=False, dispatch_uid="desk-prerun")
    signals.task_postrun.connect(_postrun, weak=False, dispatch_uid="desk-postrun")
    signals.task_retry.connect(_retry, weak=False, dispatch_uid="desk-retry")
