"""A trade's click and its fill are one trace: Flask -> Celery publish -> a real worker
consuming from RabbitMQ -> SQLAlchemy and Redis, exported to an in-memory exporter."""

from __future__ import annotations

import time

from celery.contrib.testing.worker import start_worker
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from backend import create_app, migrate, seed
from backend.config import Settings
from backend.market import ingest
from backend.ops import tracing
from tasks.arbitrage import scan
from tests.conftest import api_client
from tests.factories import ad, book
from tests.integration.conftest import TEST_SECRET
from tests.livedesk import drop_vhost, fresh_vhost


def test_a_trade_request_and_its_execution_share_one_trace(
    make_pg_database, redis_url, rabbitmq_url
):
    vhost = fresh_vhost(rabbitmq_url.rsplit("/", 1)[0])
    settings = Settings(
        _env_file=None,
        database_url=make_pg_database(),
        redis_url=redis_url,
        redis_prefix="tracing-test:",
        rabbitmq_url=vhost,
        secret_key=TEST_SECRET,
    )
    app = create_app(settings)
    spans = InMemorySpanExporter()
    assert tracing.configure(app, settings, exporter=spans)
    migrate.upgrade(settings)
    desk = app.extensions["desk"]
    now = desk.now()
    with desk.sessions.begin() as session:
        seed.seed(session, settings, desk.now(), paper=True)
        ingest.store(
            session,
            desk.cache,
            settings,
            book(
                "p2p:USDT/VES",
                fetched_at=now,
                asks=[ad(320, 5000, methods=("Banesco",))],
                bids=[ad(331, 5000, methods=("Mercantil",))],
            ),
            now,
        )
    with app.app_context():
        assert scan.run() >= 1
    client = api_client(app)
    opportunity = client.get("/api/v1/opportunities").json["opportunities"][0]
    celery = app.extensions["celery"]
    try:
        with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            spans.clear()
            r = client.post(
                "/api/v1/trades",
                json={"opportunity_id": opportunity["id"]},
                headers={"Idempotency-Key": "traced-1"},
            )
            assert r.status_code == 201, r.json
            deadline = time.monotonic() + 30
            while client.get(f"/api/v1/trades/{r.json['id']}").json["status"] != "filled":
                assert time.monotonic() < deadline, "the trade was not filled within 30 s"
                time.sleep(0.2)
    finally:
        drop_vhost(vhost)
        spans.shutdown()  # the rest of the session's spans are not kept

    finished = spans.get_finished_spans()
    request = next(s for s in finished if s.name == "POST /api/v1/trades")
    run = next(s for s in finished if s.name == "run/tasks.trading.execute")
    publish = next(s for s in finished if s.name == "apply_async/tasks.trading.execute")
    assert run.context.trace_id == request.context.trace_id == publish.context.trace_id
    assert publish.kind == SpanKind.PRODUCER and run.kind == SpanKind.CONSUMER
    assert run.parent.span_id == publish.context.span_id
    in_trade = [s for s in finished if s.context.trace_id == request.context.trace_id]
    names = {s.name for s in in_trade}
    assert any(s.attributes.get("db.system") == "postgresql" for s in in_trade), names
    assert any(s.attributes.get("db.system") == "redis" for s in in_trade), names
