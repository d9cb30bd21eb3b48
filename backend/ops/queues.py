"""Messages waiting in each Celery queue on RabbitMQ -> ``celery_queue_messages{queue}``.

RabbitMQ's management API answers for every queue in one request (ready and unacked
counts) when RABBITMQ_MANAGEMENT_URL is set; without it, a passive declare per queue
over AMQP gives the ready count. Read by the health monitor on its RabbitMQ visit.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote, urlsplit

import requests
from kombu import Connection

from backend.config import Settings
from backend.ops import metrics
from tasks.celery_app import QUEUES

log = logging.getLogger(__name__)
TIMEOUT = 2.0


def _vhost(amqp_url: str) -> str:
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def from_management(settings: Settings) -> dict[str, tuple[int, int]]:
    """queue -> (ready, unacked) from the management API."""
    parts = urlsplit(settings.rabbitmq_management_url)
    base = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    reply = requests.get(
        f"{base}/api/queues/{quote(_vhost(settings.rabbitmq_url), safe='')}",
        params={"columns": "name,messages_ready,messages_unacknowledged"},
        auth=auth,
        timeout=TIMEOUT,
    )
    reply.raise_for_status()
    return {
        q["name"]: (q.get("messages_ready", 0), q.get("messages_unacknowledged", 0))
        for q in reply.json()
    }


def from_amqp(conn: Connection) -> dict[str, tuple[int, int]]:
    """queue -> (ready, 0): AMQP tells the ready count only."""
    depths = {}
    for name in QUEUES:
        channel = conn.channel()
        try:
            _, ready, _ = channel.queue_declare(queue=name, passive=True)
            depths[name] = (ready, 0)
        except conn.channel_errors:  # not declared yet: no worker has started
            pass
        finally:
            channel.close()
    return depths


def record_depths(settings: Settings, conn: Connection) -> dict[str, dict[str, int]]:
    """Update the gauges and return queue -> {ready, unacked}; a failure to read depths
    never fails the broker's health (then nothing is returned)."""
    try:
        use_api = bool(settings.rabbitmq_management_url)
        depths = from_management(settings) if use_api else from_amqp(conn)
    except (requests.RequestException, ValueError, *conn.connection_errors) as exc:
        log.warning("could not read queue depths: %s", exc)
        return {}
    seen = {}
    for name in QUEUES:
        ready, unacked = depths.get(name, (0, 0))
        metrics.QUEUE_MESSAGES.labels(queue=name, state="ready").set(ready)
        metrics.QUEUE_MESSAGES.labels(queue=name, state="unacked").set(unacked)
        seen[name] = {"ready": ready, "unacked": unacked}
    return seen
