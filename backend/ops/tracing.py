"""OpenTelemetry traces of Flask, Celery, SQLAlchemy, Redis and outgoing HTTP (requests).

On when OTEL_EXPORTER_OTLP_ENDPOINT is set (spans go over OTLP/HTTP to
``<endpoint>/v1/traces`` in batches); off otherwise, and then nothing is instrumented at
all. The Celery instrumentation carries the trace context in the task message's headers,
so a trade's click in the web and its fill in the worker are one trace. ``service.name``
is ``p2p-exchange-desk`` unless OTEL_SERVICE_NAME says otherwise (the SDK reads it).

The provider is per process; Celery's prefork children and gunicorn's workers inherit it
and the batch exporter restarts its thread after the fork.
"""

from __future__ import annotations

from flask import Flask
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from backend.config import Settings

NOT_TRACED = "api/v1/health,health,api/v1/metrics"  # probes and scrapes, every few seconds

_provider: TracerProvider | None = None
_exporting: set[object] = set()


def _provider_once() -> TracerProvider:
    """One provider per process, with every library instrumented once."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": "p2p-exchange-desk"}))
        trace.set_tracer_provider(_provider)
        CeleryInstrumentor().instrument()
        # Its declared range stops before SQLAlchemy 2.1; the engine events it hooks are the
        # same in 2.1 (tests/integration/test_tracing.py sees the statements' spans).
        SQLAlchemyInstrumentor().instrument(skip_dep_check=True)
        RedisInstrumentor().instrument()
        RequestsInstrumentor().instrument()
    return _provider


def configure(app: Flask, settings: Settings, exporter: SpanExporter | None = None) -> bool:
    """Trace this app when an OTLP endpoint is set (or ``exporter`` is given: tests pass
    an in-memory one). Returns whether tracing is on."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if exporter is None and not endpoint:
        return False
    provider = _provider_once()
    key = exporter if exporter is not None else endpoint
    if key not in _exporting:
        _exporting.add(key)
        if exporter is None:
            processor = BatchSpanProcessor(
                OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
            )
        else:
            processor = SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)
    FlaskInstrumentor().instrument_app(app, excluded_urls=NOT_TRACED)
    # The publish span is only closed for tasks this process knows: the web queues them
    # by name, so load the task modules here too.
    app.extensions["celery"].loader.import_default_modules()
    return True
