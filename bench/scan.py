"""Scan benchmark: one full arbitrage scan over every configured market, with a node per
payment method, on simulator books.

    .venv/bin/python -m bench.scan [--rounds 200]

Two timings per round, on books the simulator draws at a different instant each round:
the domain scan alone (``arbitrage.scan``: edges, cycles, every ticket size walked) and
the scan task as a worker runs it on the embedded desk (latest books read, stale and
failing markets dropped, liquidity takes applied, opportunities recorded, committed).
Medians and p95 of one run; the machine is shared, so compare figures of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backend import create_app, migrate, seed
from backend.config import Settings
from backend.market import ingest
from backend.market.book import Market
from backend.market.simulator import Simulator
from backend.trading import arbitrage
from backend.trading.quotes import fees_from
from tasks.arbitrage import scan as scan_task


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
            redis_url=None,
            rabbitmq_url=None,
        )
        migrate.upgrade(settings)
        app = create_app(settings)
        desk = app.extensions["desk"]
        with desk.sessions.begin() as session:
            seed.seed(session, settings, desk.now())
        domain, task, found, ads = [], [], [], 0
        start = datetime.now(UTC)
        for i in range(args.rounds):
            at = start + timedelta(seconds=7 * i)
            sim = Simulator(seed=7, clock=lambda at=at: at)
            books = {key: sim.fetch(Market.parse(key)) for key in settings.markets}
            ads = sum(len(b.asks) + len(b.bids) for b in books.values())
            t0 = time.perf_counter()
            result = arbitrage.scan(
                books,
                settings.ticket_sizes_usd,
                fees_from(settings),
                settings.min_profit_usd,
                settings.paper_slippage,
            )
            domain.append(time.perf_counter() - t0)
            found.append(len(result))
            now = datetime.now(UTC)
            with desk.sessions.begin() as session:
                for book in books.values():
                    ingest.store(session, desk.cache, settings, book.__class__(
                        book.market, book.asks, book.bids, now, book.source
                    ), now)  # fmt: skip
            with app.app_context():
                t0 = time.perf_counter()
                scan_task.run()
                task.append(time.perf_counter() - t0)
        graph = arbitrage.edges(books)
        nodes = {currency for pair in graph for currency in pair}
        print(
            f"{len(settings.markets)} markets, {ads} ads, {sum(len(v) for v in graph.values())} "
            f"edges between {len(nodes)} currencies, {len(settings.ticket_sizes_usd)} sizes, "
            f"{args.rounds} rounds, {statistics.mean(found):.1f} opportunities per scan"
        )
        for name, values in (("domain scan", domain), ("scan task (SQLite)", task)):
            ms = [v * 1000 for v in values]
            print(f"{name:<20} median {statistics.median(ms):6.1f} ms   p95 {p95(ms):6.1f} ms")


if __name__ == "__main__":
    main()
