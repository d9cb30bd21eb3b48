"""Celery wired the Flask way: tasks run inside the app context; every queue and route here.

Publishing fails fast when the broker is down (a web request must never hang on it);
only trade execution acknowledges late, because it alone must survive a worker crash.
"""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask
from kombu import Exchange, Queue
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backend.resilience import Unavailable

TASK_MODULES = [
    "tasks.market",
    "tasks.arbitrage",
    "tasks.trading",
    "tasks.tickets",
    "tasks.balances",
    "tasks.heartbeat",
]

QUEUES = ("market", "trading", "default")
ROUTES = {
    "tasks.market.*": {"queue": "market"},
    "tasks.trading.execute": {"queue": "trading"},
    "tasks.*": {"queue": "default"},
}

# A database that is away (failover, SQLite's write lock, a full pool, its breaker open)
# is waited out for a minute or two: backoff doubling to 30 s, full jitter, 10 retries. Fewer
# gave up within seconds of an outage and left a queued trade without its message.
DB_RETRY = {
    "autoretry_for": (OperationalError, PoolTimeout, Unavailable),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 10,
}

HEARTBEAT_SECONDS = 5.0
SWEEP_SECONDS = 10.0


def beat_schedule(markets: list[str], interval: float) -> dict:
    schedule = {
        f"ingest {key}": {
            "task": "tasks.market.ingest",
            "schedule": interval,
            "args": (key,),
            "options": {"expires": interval * 3},  # a backlog of old polls is worthless
        }
        for key in markets
    }
    schedule["worker heartbeat"] = {
        "task": "tasks.heartbeat.beat",
        "schedule": HEARTBEAT_SECONDS,
        "options": {"expires": HEARTBEAT_SECONDS},
    }
    schedule["trade outbox sweep"] = {"task": "tasks.trading.sweep", "schedule": SWEEP_SECONDS}
    schedule["operator tickets watch"] = {
        "task": "tasks.tickets.watch",
        "schedule": SWEEP_SECONDS,
        "options": {"expires": SWEEP_SECONDS},
    }
    schedule["house balances watch"] = {
        "task": "tasks.balances.watch",
        "schedule": SWEEP_SECONDS,
        "options": {"expires": SWEEP_SECONDS},
    }
    return schedule


def transport_options(broker_url: str) -> dict:
    """Bounded publish retries; on the embedded SQLite broker, wait out its write lock."""
    options = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
    if broker_url.startswith("sqla+"):
        options["connect_args"] = {"timeout": 30}  # handed to create_engine by kombu
    return options


def celery_init_app(app: Flask) -> Celery:
    settings = app.extensions["desk"].settings

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    celery_app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        broker_transport_options=transport_options(settings.broker_url),
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        task_ignore_result=True,
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        task_default_queue="default",
        task_routes=ROUTES,
        worker_prefetch_multiplier=1,
        # After a broker outage Celery lowers the prefetch and raises it again from the
        # task that finishes, on the consumer's connection: in the thread pool (the
        # Procfile's) that is a task thread reading the socket the main loop reads too,
        # and both waited forever on a torn frame: the worker alive, consuming nothing.
        worker_enable_prefetch_count_reduction=False,
        beat_schedule=beat_schedule(settings.markets, settings.ingest_interval_seconds),
        timezone="UTC",
        desk_worker_metrics_port=settings.worker_metrics_port,
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    from tasks import log_context, signals

    signals.connect()
    log_context.connect()
    return celery_app
