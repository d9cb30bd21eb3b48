"""History scale benchmark: what reads tick history (the Prices page, the market detail
page with its candles, one ingest poll) at 10^5, 10^6 and 10^7 ticks on PostgreSQL, next
to a trivial Dash callback timed in the same run.

    .venv/bin/python -m bench.scale [--sizes 100000,1000000,10000000] [--repeat 40] [--keep]
                                    [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

For each size a throw-away database (kept with --keep, and then reused by the next run
with that size) gets the ticks by COPY as ingest writes them: the 11 configured markets
polled every 2 s at the default ticket, a random walk around each market's simulated
mid, timestamps ending at the fill's end, a rare empty book (no mid). The 1-minute
candles are rebuilt from them as the migration does, then one simulated book per market
is stored through ``ingest.store`` so the board and the depth chart have data. The desk's
clock is the newest tick, so a kept database measures the same windows later.

All sizes are prepared first, then timed together: every round goes through every size
and every request, so the shared machine's load falls on all of them alike. Requests go
through the whole Flask stack as a viewer (guard, access check, callback, JSON): the
page HTML, the frame and callback list Dash's renderer fetches, Dash's routing callback
that builds the page's layout, and the callbacks the page fires (the Prices board; the
market page's refresh at each candle range). "ingest one poll" is ``ingest.store`` of
one market's book, committed: the sparkline's recent mids, the tick, the candle upsert,
the ads.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from flask.testing import FlaskClient

from backend import create_app, migrate
from backend.db import get_engine, unbounded
from backend.desk import Desk
from backend.market import candles, ingest
from backend.market.book import Market
from backend.market.simulator import Simulator, profile_for
from bench.prices import CALLBACK
from bench.trades import TRIVIAL, settings_for, viewer_client

POLL = timedelta(seconds=2)
MARKET_PAGE = ("p2p", "USDT-VES")


def database(admin_url: str, n: int, keep: bool) -> tuple[str, bool]:
    """(URL, already filled) of this size's database."""
    name = f"desk_bench_ticks_{n}" if keep else f"desk_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}", bool(exists)


def fill(url: str, n: int, markets: list[str], ticket: Decimal) -> tuple[float, datetime]:
    """COPY n ticks spread over the markets, 2 s apart, ending now.
    Returns (seconds taken, newest tick time)."""
    rng = random.Random(11)
    started = time.perf_counter()
    end = datetime.now(UTC).replace(microsecond=0) - POLL
    per_market = -(-n // len(markets))
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY price_ticks (market, time, source, best_bid, best_ask, mid, effective_bid, "
            "effective_ask, ticket_usd, bid_depth, ask_depth) FROM STDIN"
        ) as copy:
            written = 0
            for index, key in enumerate(markets):
                profile = profile_for(Market.parse(key))
                mid, scale = float(profile.mid), profile.scale
                offset = timedelta(milliseconds=37 * index)  # polls of a round land apart
                lines = []
                for k in range(min(per_market, n - written)):
                    at = end - POLL * (per_market - 1 - k) + offset
                    mid *= 1 + rng.gauss(0, 0.0004)
                    if rng.random() < 0.001:  # an empty book: no prices, no depth
                        lines.append(
                            f"{key}\t{at}\tsimulator\t\\N\t\\N\t\\N\t\\N\t\\N\t{ticket}\t0\t0\n"
                        )
                        continue
                    half = mid * profile.spread / 2
                    bid, ask = round(mid - half, scale), round(mid + half, scale)
                    lines.append(
                        f"{key}\t{at}\tsimulator\t{bid}\t{ask}\t{(bid + ask) / 2:.{scale + 1}f}\t"
                        f"{round(bid - half * 0.4, scale)}\t{round(ask + half * 0.4, scale)}\t"
                        f"{ticket}\t{rng.uniform(5e3, 9e4):.2f}\t{rng.uniform(5e3, 9e4):.2f}\n"
                    )
                    if len(lines) == 10_000:
                        copy.write("".join(lines))
                        lines.clear()
                copy.write("".join(lines))
                written += min(per_market, n - written)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE price_ticks")
        newest = conn.execute("SELECT max(time) FROM price_ticks").fetchone()[0]
    return time.perf_counter() - started, newest


def seed_books(desk, now: datetime) -> None:
    """One simulated book per market through ingest, as the poller stores it (USD first)."""
    source = Simulator(clock=lambda: now)
    for key in sorted(desk.settings.markets, key=lambda k: not k.startswith("spot:")):
        with desk.sessions.begin() as session:
            ingest.ingest(session, desk.cache, desk.settings, source, Market.parse(key), now)


def routing(path: str) -> dict:
    """Dash pages' routing callback: the page's layout for a path."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


PRICES = CALLBACK  # the Prices board callback, as bench.prices sends it


def market_refresh(key: str, minutes: str) -> dict:
    outputs = [
        ("depth-chart", "figure"),
        ("candle-chart", "figure"),
        ("methods-grid", "rowData"),
        ("ads-grid", "rowData"),
        ("market-age", "children"),
        ("market-age", "color"),
    ]
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [
            {"id": "market-tick", "property": "n_intervals", "value": 1},
            {"id": "candle-range", "property": "value", "value": minutes},
            {"id": "market-push", "property": "data", "value": None},
        ],
        "state": [{"id": "market-key", "property": "data", "value": key}],
        "changedPropIds": ["candle-range.value"],
    }


def cases() -> dict[str, tuple[str, str, dict | None]]:
    """Name -> (method, path, JSON body) of every request timed."""
    key = f"{MARKET_PAGE[0]}:{MARKET_PAGE[1].replace('-', '/')}"
    page = f"/markets/{MARKET_PAGE[0]}/{MARKET_PAGE[1]}"
    update = "/_dash-update-component"
    out: dict[str, tuple[str, str, dict | None]] = {
        "trivial callback (menu toggle)": ("POST", update, TRIVIAL),
        "any page: GET /_dash-layout (the frame)": ("GET", "/_dash-layout", None),
        "any page: GET /_dash-dependencies": ("GET", "/_dash-dependencies", None),
        "Prices: page HTML": ("GET", "/", None),
        "Prices: layout (routing callback)": ("POST", update, routing("/")),
        "Prices: board callback": ("POST", update, PRICES),
        "GET /api/v1/prices": ("GET", "/api/v1/prices", None),
        f"{key}: page HTML": ("GET", page, None),
        f"{key}: layout (routing callback)": ("POST", update, routing(page)),
    }
    for minutes, label in (("15", "15 min"), ("60", "1 h"), ("360", "6 h"), ("1440", "24 h")):
        out[f"{key}: refresh, candles {label}"] = ("POST", update, market_refresh(key, minutes))
    return out


@dataclass
class Size:
    """One history size, ready to measure: its desk (clock at its newest tick) and client."""

    n: int
    desk: Desk
    client: FlaskClient
    now: datetime


def prepare(stack: ExitStack, admin_url: str, n: int, keep: bool) -> Size:
    url, filled = database(admin_url, n, keep)
    if not keep:
        stack.callback(drop, admin_url, url)
    settings = settings_for(url)
    migrate.upgrade(settings)
    if not filled:
        seconds, _ = fill(url, n, settings.markets, settings.default_ticket_usd)
        started = time.perf_counter()
        with get_engine(settings).begin() as connection, unbounded(connection):
            candles.rebuild(connection)
        print(
            f"filled {n:,} ticks in {seconds:.0f} s, "
            f"their candles in {time.perf_counter() - started:.0f} s"
        )
    with psycopg.connect(url) as conn:
        newest = conn.execute("SELECT max(time) FROM price_ticks").fetchone()[0]
    app = create_app(settings)
    stack.callback(get_engine(settings).dispose)
    desk, now = app.extensions["desk"], newest + POLL
    desk.now = lambda: now
    seed_books(desk, now)
    with desk.sessions() as session:
        day = candles.minute_candles(session, "p2p:USDT/VES", now - timedelta(days=1))
    print(f"{n:,} ticks: {len(day)} one-minute candles of p2p:USDT/VES in 24 h")
    return Size(n, desk, viewer_client(app), now)


def drop(admin_url: str, url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def time_requests(sizes: list[Size], repeat: int) -> dict[int, dict[str, list[float]]]:
    """Size -> case -> milliseconds per request; every round goes through every size and
    every case, so a burst of load on the shared machine hits all of them alike."""
    todo = cases()
    samples = {size.n: {name: [] for name in todo} for size in sizes}
    for size in sizes:  # warm each once; check it works
        for name, (method, path, body) in todo.items():
            reply = size.client.open(path, method=method, json=body)
            assert reply.status_code == 200, (name, reply.status_code, reply.text[:300])
    for _ in range(repeat):
        for size in sizes:
            for name, (method, path, body) in todo.items():
                started = time.perf_counter()
                size.client.open(path, method=method, json=body)
                samples[size.n][name].append((time.perf_counter() - started) * 1000)
    return samples


def time_ingest(sizes: list[Size], repeat: int) -> dict[int, list[float]]:
    """Size -> milliseconds per committed ``ingest.store`` of p2p:USDT/VES, 2 s apart."""
    market, times = Market.parse("p2p:USDT/VES"), {size.n: [] for size in sizes}
    for k in range(1, repeat + 1):
        for size in sizes:
            at = size.now + POLL * k
            book = Simulator(clock=lambda at=at: at).fetch(market).sorted()
            started = time.perf_counter()
            with size.desk.sessions.begin() as session:
                ingest.store(session, size.desk.cache, size.desk.settings, book, at)
            times[size.n].append((time.perf_counter() - started) * 1000)
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the databases")
    args = parser.parse_args()
    ns = [int(s) for s in args.sizes.split(",")]

    with ExitStack() as stack:
        sizes = [prepare(stack, args.admin_url, n, args.keep) for n in ns]
        print(f"load average before timing: {_load()}")
        results = time_requests(sizes, args.repeat)
        for n, times in time_ingest(sizes, args.repeat).items():
            results[n]["ingest one poll (p2p:USDT/VES)"] = times
        print(f"load average after timing: {_load()}")

    first, last, floor = ns[0], ns[-1], "trivial callback (menu toggle)"
    print(f"\n{args.repeat} rounds, sizes interleaved; median / p95 in ms")
    print(
        "| Request | "
        + " | ".join(f"{n:,} ticks" for n in ns)
        + " | p95 growth | p95 growth over the trivial callback's |"
    )
    print("|---|" + "---|" * len(ns) + "---|---|")
    for name in results[first]:
        cells = [
            f"{statistics.median(results[n][name]):.1f} / {p95(results[n][name]):.1f}" for n in ns
        ]
        growth = p95(results[last][name]) / p95(results[first][name])
        floor_growth = p95(results[last][floor]) / p95(results[first][floor])
        print(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {growth:.2f}× | {growth / floor_growth:.2f}× |"
        )


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


if __name__ == "__main__":
    main()
