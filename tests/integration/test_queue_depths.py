"""Messages waiting per Celery queue, from RabbitMQ's management API and over AMQP."""

from __future__ import annotations

import time

import pytest
from kombu import Connection, Exchange, Queue

from backend.config import Settings
from backend.ops import queues
from tests.integration.conftest import TEST_SECRET
from tests.livedesk import drop_vhost, fresh_vhost
from tests.unit.test_metrics import sample

MANAGEMENT = "http://guest:guest@127.0.0.1:15672"


@pytest.fixture
def broker(rabbitmq_url):
    vhost = fresh_vhost(rabbitmq_url.rsplit("/", 1)[0])
    with Connection(vhost) as conn:
        for name in ("market", "trading", "default"):
            Queue(name, Exchange(name), routing_key=name)(conn.default_channel).declare()
        producer = conn.Producer()
        for _ in range(3):
            producer.publish({"x": 1}, exchange="trading", routing_key="trading")
        producer.publish({"x": 1}, exchange="market", routing_key="market")
    yield vhost
    drop_vhost(vhost)


def settings(vhost: str, management: str | None) -> Settings:
    return Settings(
        _env_file=None,
        database_url="sqlite://",
        rabbitmq_url=vhost,
        rabbitmq_management_url=management,
        secret_key=TEST_SECRET,
    )


@pytest.mark.parametrize("management", [MANAGEMENT, None], ids=["management-api", "amqp"])
def test_depths_per_queue_reach_the_gauges(broker, management, client):
    with Connection(broker) as conn:
        conn.ensure_connection(max_retries=1)
        if management:  # the API's counts lag the broker by its stats interval
            deadline = time.monotonic() + 15
            while queues.from_management(settings(broker, management)).get("trading", (0,))[0] < 3:
                assert time.monotonic() < deadline, "the management API never counted 3"
                time.sleep(0.5)
        depths = queues.record_depths(settings(broker, management), conn)
    assert depths["trading"]["ready"] == 3 and depths["default"]["ready"] == 0  # System page
    text = client.get("/api/v1/metrics").text
    assert sample(text, "celery_queue_messages", queue="trading", state="ready") == 3
    assert sample(text, "celery_queue_messages", queue="market", state="ready") == 1
    assert sample(text, "celery_queue_messages", queue="default", state="ready") == 0
