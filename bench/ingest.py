"""Ingest benchmark: ad rows/s through the desk's path vs a raw COPY, and bytes per market-day.

    .venv/bin/python -m bench.ingest [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a throw-away database on the given server, runs both writers on identical rows
in alternating rounds (the machine is shared and noisy: medians of one run, and their
ratio, are what count), then polls the simulator for one simulated hour through the full
ingest path and extrapolates the bytes stored per market-day at the default 2 s polling.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from sqlalchemy import text

from backend import migrate
from backend.cache import LocalCache
from backend.config import Settings
from backend.db import get_engine, session_factory
from backend.market import ingest, snapshots
from backend.market.book import Ad, Advertiser, Book, Market
from backend.market.simulator import Simulator

MARKETS = [
    Market.parse(k)
    for k in (
        "p2p:USDT/VES",
        "p2p:USDT/COP",
        "p2p:USDT/ARS",
        "p2p:USDT/BRL",
        "p2p:USDT/PEN",
        "p2p:USDT/CLP",
        "p2p:USDT/MXN",
        "p2p:USDT/USD",
    )
]
ADS_PER_SIDE = 50


def synthetic_book(market: Market, at: datetime, rng: random.Random) -> Book:
    def side(prefix: str, base: float, sign: int) -> tuple[Ad, ...]:
        return tuple(
            Ad(
                ad_no=f"{prefix}{i:03d}-{uuid.uuid4().hex[:10]}",
                price=Decimal(f"{base * (1 + sign * i * 0.0004):.2f}"),
                quantity=Decimal(f"{rng.uniform(50, 5000):.2f}"),
                min_amount=Decimal(rng.choice((1000, 5000, 20000))),
                max_amount=Decimal(rng.choice((200000, 900000, 4000000))),
                methods=("Banesco", "PagoMovil")[: rng.randint(1, 2)],
                advertiser=Advertiser(
                    f"nick{i}",
                    rng.choice(("merchant", "user")),
                    rng.randint(10, 3000),
                    Decimal(f"{rng.uniform(0.9, 1):.3f}"),
                ),
            )
            for i in range(ADS_PER_SIDE)
        )

    return Book(market, side("a", 320.0, 1), side("b", 318.0, -1), at, "bench")


def desk_writer(sessions, ticks: list[list[Book]]) -> float:
    start = time.perf_counter()
    for books in ticks:
        with sessions.begin() as session:
            batch = [row for book in books for row in snapshots.rows(book, None)]
            snapshots.write(session, batch)
    return time.perf_counter() - start


def raw_copy(dsn: str, batches: list[list[tuple]]) -> float:
    with psycopg.connect(dsn) as conn:
        start = time.perf_counter()
        for batch in batches:
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY ad_snapshots ({', '.join(snapshots.COLUMNS)}) FROM STDIN") as copy,
            ):
                for row in batch:
                    copy.write_row(row)
            conn.commit()
        return time.perf_counter() - start


def truncate(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE ad_snapshots, price_ticks, latest_books"))


def ratio_bench(settings: Settings, dsn: str, rounds: int, ticks_per_round: int) -> dict:
    rng = random.Random(1)
    t0 = datetime(2026, 11, 27, tzinfo=UTC)
    ticks = [
        [synthetic_book(m, t0 + timedelta(seconds=2 * k), rng) for m in MARKETS]
        for k in range(ticks_per_round)
    ]
    batches = [[row for book in books for row in snapshots.rows(book, None)] for books in ticks]
    n_rows = sum(map(len, batches))
    engine, sessions = get_engine(settings), session_factory(settings)
    desk, raw = [], []
    for _ in range(rounds):
        truncate(engine)
        desk.append(n_rows / desk_writer(sessions, ticks))
        truncate(engine)
        raw.append(n_rows / raw_copy(dsn, batches))
    return {
        "rows_per_round": n_rows,
        "desk_rows_per_s": statistics.median(desk),
        "raw_copy_rows_per_s": statistics.median(raw),
        "ratio": statistics.median(desk) / statistics.median(raw),
    }


def storage_bench(settings: Settings, hours: float) -> dict:
    """Full ingest path (tick + changed ads + latest book) for one market, simulated time."""
    engine, sessions = get_engine(settings), session_factory(settings)
    truncate(engine)
    cache, market = LocalCache(), Market.parse("p2p:USDT/VES")
    t0 = datetime(2026, 11, 27, tzinfo=UTC)
    polls = int(hours * 3600 / settings.ingest_interval_seconds)
    start = time.perf_counter()
    for k in range(polls):
        at = t0 + timedelta(seconds=k * settings.ingest_interval_seconds)
        source = Simulator(seed=7, clock=lambda at=at: at)
        with sessions.begin() as session:
            ingest.ingest(session, cache, settings, source, market, at)
    elapsed = time.perf_counter() - start
    with engine.begin() as conn:
        # On TimescaleDB the rows live in chunks: the parent tables are (nearly) empty.
        timescale = conn.execute(
            text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        ).scalar()
        size_of = "hypertable_size" if timescale else "pg_total_relation_size"
        size = conn.execute(
            text(f"SELECT {size_of}('ad_snapshots') + {size_of}('price_ticks')")
        ).scalar()
        ads = conn.execute(text("SELECT count(*) FROM ad_snapshots")).scalar()
        compressed = None
        if timescale:  # what the compression policy does to a closed day, done now
            for table in ("ad_snapshots", "price_ticks"):
                conn.execute(text(f"SELECT compress_chunk(c, true) FROM show_chunks('{table}') c"))
            compressed = conn.execute(
                text("SELECT hypertable_size('ad_snapshots') + hypertable_size('price_ticks')")
            ).scalar()
    per_day = 24 / hours / 1e6
    return {
        "polls": polls,
        "ad_rows": ads,
        "bytes": size,
        "polls_per_s": polls / elapsed,
        "mb_per_market_day": size * per_day,
        "compressed_mb_per_market_day": compressed and compressed * per_day,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ticks", type=int, default=150)
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args()
    name = f"desk_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = args.admin_url.rsplit("/", 1)[0] + f"/{name}"
    settings = Settings(_env_file=None, database_url=dsn, secret_key="benchmarks-only-key")
    try:
        migrate.upgrade(settings)
        ratio = ratio_bench(settings, dsn, args.rounds, args.ticks)
        print(f"ad rows per round: {ratio['rows_per_round']}  rounds: {args.rounds}")
        print(f"desk ingest path : {ratio['desk_rows_per_s']:,.0f} rows/s (median)")
        print(f"raw COPY         : {ratio['raw_copy_rows_per_s']:,.0f} rows/s (median)")
        print(f"ratio            : {ratio['ratio']:.2f}")
        store = storage_bench(settings, args.hours)
        print(
            f"storage: {store['polls']} polls of p2p:USDT/VES in {args.hours} simulated h, "
            f"{store['ad_rows']} ad rows, {store['bytes']:,} bytes "
            f"-> {store['mb_per_market_day']:.1f} MB per market-day "
            f"(full path {store['polls_per_s']:.0f} polls/s)"
        )
        if store["compressed_mb_per_market_day"] is not None:
            print(
                f"compressed (TimescaleDB): "
                f"{store['compressed_mb_per_market_day']:.1f} MB per market-day"
            )
    finally:
        get_engine(settings).dispose()
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
