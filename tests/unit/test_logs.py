"""Structured logs: JSON lines with the request's context, secrets masked, long values cut."""

import json
import logging

import structlog

from backend.ops import logs


def lines(capfd) -> list[dict]:
    return [
        json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]


def test_a_request_line_carries_request_id_user_and_status(capfd, client):
    capfd.readouterr()
    r = client.get("/api/v1/opportunities", headers={"X-Request-ID": "trace-me-123"})
    assert r.headers["X-Request-ID"] == "trace-me-123"
    line = next(x for x in lines(capfd) if x["event"] == "request")
    assert (
        line
        | {
            "request_id": "trace-me-123",
            "user": "test-trader",
            "path": "/api/v1/opportunities",
            "status": 200,
            "level": "info",
        }
        == line
    )


def test_a_request_id_that_is_not_sane_is_replaced(client):
    r = client.get("/api/v1/opportunities", headers={"X-Request-ID": "x" * 500})
    assert len(r.headers["X-Request-ID"]) == 32


def test_bound_context_follows_every_line_until_the_next_request(capfd, app):
    logs.clear()
    logs.bind(trade_id=42)
    logging.getLogger("backend.anything").warning("filled %s legs", 2)
    with logs.bound(leg=1):
        structlog.get_logger("x").info("leg done")
    structlog.get_logger("x").info("after")
    out = lines(capfd)
    assert [(x["event"], x.get("trade_id"), x.get("leg")) for x in out[-3:]] == [
        ("filled 2 legs", 42, None),
        ("leg done", 42, 1),
        ("after", 42, None),
    ]
    logs.clear()


def test_secrets_are_masked_wherever_they_appear(capfd, app):
    structlog.get_logger("x").info(
        "connecting to amqp://desk:s3cr3t-pass@mq:5672// with Authorization: Bearer tok-123456",
        password="hunter2",
        api_key="k-999",
        database_url="postgresql+psycopg://desk:pg-pass@db/desk",
    )
    line = lines(capfd)[-1]
    text = json.dumps(line)
    for secret in ("s3cr3t-pass", "tok-123456", "hunter2", "k-999", "pg-pass"):
        assert secret not in text
    assert "amqp://desk:***@mq" in line["event"] and line["password"] == "[redacted]"


def test_oversized_values_are_cut(capfd, app):
    structlog.get_logger("x").info("big", body="y" * 50_000)
    line = lines(capfd)[-1]
    assert len(line["body"]) < logs.MAX_VALUE + 100 and "characters cut" in line["body"]
