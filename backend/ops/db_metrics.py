"""db_queries_total, db_query_duration_seconds and db_connection_pool_size from engine events."""

from __future__ import annotations

import functools
import time

from sqlalchemy import Engine, event

from backend.ops import metrics


def _operation(statement: str) -> str:
    word = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "OTHER"
    return word if word in {"SELECT", "INSERT", "UPDATE", "DELETE", "COPY", "WITH"} else "OTHER"


@functools.cache
def _series(op: str):
    """The counter and the histogram of one operation: ``labels`` looked up once per
    process instead of twice per statement (a fill runs a dozen)."""
    return metrics.DB_QUERIES.labels(operation=op), metrics.DB_QUERY_DURATION.labels(operation=op)


def instrument(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("query_start", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - conn.info["query_start"].pop()
        count, duration = _series(_operation(statement))
        count.inc()
        duration.observe(elapsed)

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, proxy):
        size = getattr(engine.pool, "size", None)
        if callable(size):
            metrics.DB_POOL_SIZE.set(size())
