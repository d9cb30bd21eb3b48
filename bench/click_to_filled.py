"""Click to ``filled``: a trade request's way through the desk, next to a bare Celery round trip.

    .venv/bin/python -m bench.click_to_filled [--trades 200] [--redis-url redis://127.0.0.1:6379/13]

Real parts as production runs them: a fresh PostgreSQL database, a private RabbitMQ vhost,
and a real ``celery worker`` process (threads pool, as the Procfile starts it). The web
side is the desk's Flask app in this process (``POST /api/v1/trades`` with a trader's
token, through the full request path); before each request, outside the clock, a fresh
crossed book is ingested and scanned so an opportunity with its liquidity is there.

Measured per trade: from just before the POST to the moment a separate PostgreSQL
connection first reads ``filled`` (committed; polled every 0.5 ms). The path inside it
comes from the trade's own events (wall clocks of one machine): the web's ``queued``
mark right after it published, the worker's claim (``executing``), and the start of
the fill's transaction (the time its ``filled`` event records). Alternating with it,
the bare round trip: ``celery.accumulate`` (Celery's built-in identity task) sent to the
same worker over the same broker, its result back over ``rpc://``. Prints medians and
p95 of both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
ADMIN_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def crossed_book(now):
    from backend.market.book import Ad, Advertiser, Book, Market

    who = Advertiser(nick="bench", user_type="merchant", month_orders=100)

    def ad(no, price, method):
        return Ad(no, Decimal(price), Decimal(50_000), Decimal(0), None, (method,), who)

    return Book(
        Market.parse("p2p:USDT/VES"),
        (ad("ask", 320, "Banesco"),),
        (ad("bid", 331, "Mercantil"),),
        now,
        "bench",
    ).sorted()


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "tasks.worker", "--result-backend",
             "rpc://", "worker", "--pool", "threads", "--queues", "market,trading,default",
             "--concurrency", "2", "--loglevel", "WARNING", "--without-gossip",
             "--without-mingle"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


@dataclass
class BenchDesk:
    app: object
    desk: object
    client: object  # a Flask test client carrying a trader's bearer token
    database_url: str
    env: dict  # what a worker process started for this desk needs


@contextmanager
def bench_desk(redis_url: str | None) -> Iterator[BenchDesk]:
    """A seeded desk on a fresh PostgreSQL database and a private RabbitMQ vhost, both
    dropped at the end."""
    from backend import create_app, migrate, seed
    from backend.config import Settings
    from backend.web import tokens, users

    name = f"bench_click_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True)  # fmt: skip
    database_url = ADMIN_PG.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    database_url += f"/{name}"
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        rabbitmq_url=f"{RABBITMQ}/{name}",
        redis_url=redis_url,
        secret_key="bench-click-to-filled",
        trade_rate_limit="1000000/minute",
        markets="p2p:USDT/VES",
        log_level="WARNING",
    )
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "RABBITMQ_URL": settings.rabbitmq_url,
        "REDIS_URL": redis_url or "",
        "SECRET_KEY": settings.secret_key,
        "MARKETS": "p2p:USDT/VES",
        "TRADE_RATE_LIMIT": settings.trade_rate_limit,
        "LOG_LEVEL": "WARNING",
    }
    try:
        migrate.upgrade(settings)
        app = create_app(settings)
        desk = app.extensions["desk"]
        with desk.sessions.begin() as session:
            seed.seed(session, settings, desk.now(), paper=True)
            users.create(session, "bench", "trader", "bench-password-123", actor="bench",
                         now=desk.now())  # fmt: skip
            token = tokens.create(session, "bench", "bench", timedelta(hours=1), actor="bench",
                                  now=desk.now())  # fmt: skip
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        yield BenchDesk(app, desk, client, database_url, env)
    finally:
        from backend.db import _engines

        for engine in _engines.values():
            engine.dispose()
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True)


def fresh_opportunity(bench: BenchDesk) -> int:
    """A fresh crossed book ingested and scanned: the id of the opportunity it makes."""
    from backend.market import ingest
    from tasks.arbitrage import scan

    desk = bench.desk
    now = desk.now()
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, crossed_book(now), now)
    with bench.app.app_context():
        scan.run()
    return bench.client.get("/api/v1/opportunities").json["opportunities"][0]["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-click-"))
    with bench_desk(args.redis_url) as bench:
        celery = bench.app.extensions["celery"]
        celery.conf.result_backend = "rpc://"
        worker = start_worker(bench.env, home / "worker.log")
        try:
            deadline = time.monotonic() + 60
            while not celery.control.ping(timeout=1):
                if worker.poll() is not None or time.monotonic() > deadline:
                    log = (home / "worker.log").read_text()[-3000:]
                    sys.exit(f"worker did not start:\n{log}")
            watch = psycopg.connect(bench.database_url.replace("+psycopg", ""), autocommit=True)
            clicks, trips = [], []
            for n in range(args.warmup + args.trades):
                trips_ms = round_trip(celery)
                click_ms = click_to_filled(bench, watch, n)
                if n >= args.warmup:
                    trips.append(trips_ms)
                    clicks.append(click_ms)
            watch.close()
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    print(f"{args.trades} trades after {args.warmup} warm-up, alternating with bare round trips")
    print("| Path | median | p95 | max |")
    print("|---|---|---|---|")
    totals = [c["total"] for c in clicks]
    rows = [("click to filled", totals)]
    rows += [(f"  of which: click to {k}", [c[k] for c in clicks]) for k in ("request", "claimed")]
    rows += [("  of which: claim to filled read", [c["after claim"] for c in clicks])]
    published = [c["published"] for c in clicks if c["published"] is not None]
    rows += [
        (f"  the path: click to published ({len(published)} marked queued)", published),
        ("  the path: published to claimed", [c["hop"] for c in clicks if c["hop"] is not None]),
        ("  the path: claim to the fill's start", [c["fill started"] for c in clicks]),
        ("  the path: fill's start to `filled` read", [c["fill committed"] for c in clicks]),
    ]
    rows += [("bare Celery round trip", trips)]
    for label, values in rows:
        if len(values) < 2:
            continue
        print(
            f"| {label} | {statistics.median(values):.1f} ms | {p95(values):.1f} ms | "
            f"{max(values):.1f} ms |"
        )
    print(f"p95 ratio: {p95(totals) / p95(trips):.1f}x")


def round_trip(celery) -> float:
    started = time.perf_counter()
    celery.send_task("celery.accumulate", args=(1,), ignore_result=False).get(timeout=10)
    return (time.perf_counter() - started) * 1000


def click_to_filled(bench: BenchDesk, watch, n: int) -> dict[str, float]:
    """Milliseconds from the click to: the 201 (request), the worker's claim (its
    ``executing`` event; wall clocks of one machine), and ``filled`` read back (total)."""
    opportunity = fresh_opportunity(bench)
    wall, started = time.time(), time.perf_counter()
    r = bench.client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity, "size": "1000"},
        headers={"Idempotency-Key": f"bench-{n}-{uuid.uuid4().hex[:6]}"},
    )
    if r.status_code != 201:
        sys.exit(f"trade request refused: {r.status_code} {r.json}")
    answered = time.perf_counter()
    trade_id = r.json["id"]
    while True:
        status = watch.execute("SELECT status FROM trades WHERE id = %s", (trade_id,)).fetchone()[0]
        if status in ("filled", "rejected", "failed"):
            break
        time.sleep(0.0005)
    done = time.perf_counter()
    if status != "filled":
        sys.exit(f"trade {trade_id} ended {status}")
    at = dict(
        watch.execute(
            "SELECT to_status, min(at) FROM trade_events WHERE trade_id = %s GROUP BY to_status",
            (trade_id,),
        ).fetchall()
    )
    total = (done - started) * 1000
    claim_ms, fill_ms = ((at[k].timestamp() - wall) * 1000 for k in ("executing", "filled"))
    published = at.get("queued")  # absent when the worker claimed before the web marked it
    published_ms = None if published is None else (published.timestamp() - wall) * 1000
    return {
        "total": total,
        "request": (answered - started) * 1000,
        "claimed": claim_ms,
        "after claim": total - claim_ms,
        "published": published_ms,
        "hop": None if published_ms is None else claim_ms - published_ms,
        "fill started": fill_ms - claim_ms,
        "fill committed": total - fill_ms,
    }


if __name__ == "__main__":
    main()
