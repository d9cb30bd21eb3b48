"""Trades history benchmark: the Trades grid's paging callback, the history's totals and
the CSV export with 10^6 trades on PostgreSQL (and, with --small, a smaller history in
the same rounds, for the growth).

    .venv/bin/python -m bench.trades [--trades 1000000] [--small 10000] [--repeat 40]
                                     [--keep] [--prefix desk_bench_trades] [--no-export]
                                     [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a throw-away database per size (kept with --keep, and then reused by the next run
with the same size), fills it with COPY (two to three legs per trade, six users, three
strategies, 90 % filled over 90 days) and adds up its daily rollup, then posts the grid's
block request to /_dash-update-component through the whole Flask stack (session guard,
access check, callback, JSON) as a viewer, for the requests a trader makes: first block,
a filter, a sort (also by user and status), a date range, the block half-way down the
history reached by a jump (no block ended there) and the block after it reached by
scrolling on (a seek from the last key of the block before). A trivial callback (the
menu toggle) is timed in the same rounds as the floor, and so are the history's totals
and P&L curve (/api/v1/trades/summary), never from the cache, unfiltered and filtered.
Then the direct SUM over the trades that the rollup replaced, and the CSV export of
every trade streamed in a child process that reports its time and peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import psycopg
from sqlalchemy import create_engine

from backend import create_app, migrate
from backend.cache import LocalCache
from backend.config import Settings
from backend.trading import trade_buckets, trade_days, trade_history, trade_hours
from backend.web import tokens, users

USERS = ("ana", "ben", "carla", "dario", "elena", "fer")
STRATEGIES = ("crossed_book", "spot_p2p", "triangle")
ROUTES = {
    "crossed_book": ("p2p:USDT/VES", "p2p:USDT/VES"),
    "spot_p2p": ("p2p:USDT/BRL", "spot:USDT/BRL"),
    "triangle": ("p2p:USDT/VES", "spot:BTC/USDT", "p2p:BTC/VES"),
}
START = datetime(2026, 8, 30, tzinfo=UTC)


def database(admin_url: str, n: int, keep: bool, prefix: str) -> tuple[str, bool]:
    """(URL, already filled) of the benchmark's database."""
    name = f"{prefix}_{n}" if keep else f"desk_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}", bool(exists)


def fill(url: str, n: int) -> float:
    """COPY n trades and their legs; returns seconds taken."""
    rng = random.Random(7)
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO opportunities (id, fingerprint, strategy, legs, size_usd, profit_usd, "
            "profit_bps, status, first_seen, last_seen, expires_at) VALUES (1, 'bench', "
            "'crossed_book', '[]', 500, 1, 20, 'expired', now(), now(), now())"
        )
        step = timedelta(days=90) / n
        with conn.cursor().copy(
            "COPY trades (id, idempotency_key, opportunity_id, requested_by, strategy, mode, "
            "status, size_usd, expected_profit_usd, profit_usd, error, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            for i in range(1, n + 1):
                at = START + step * i
                filled = rng.random() < 0.9
                strategy = rng.choice(STRATEGIES)
                copy.write_row(
                    (
                        i,
                        f"bench-{i}",
                        1,
                        rng.choice(USERS),
                        strategy,
                        "paper",
                        "filled" if filled else "rejected",
                        rng.choice((100, 250, 500, 1000, 2500)),
                        f"{rng.uniform(0.1, 9):.2f}",
                        f"{rng.uniform(-2, 9):.6f}" if filled else None,
                        None if filled else "books moved: profit below the minimum",
                        at,
                        at,
                    )
                )
        with conn.cursor().copy(
            "COPY trade_legs (trade_id, seq, market, side, method, price, sell_currency, "
            "sell_amount, buy_currency, buy_amount, fee, filled_at) FROM STDIN"
        ) as copy:
            rng = random.Random(7)
            for i in range(1, n + 1):
                rng.random()
                for seq, market in enumerate(ROUTES[rng.choice(STRATEGIES)]):
                    copy.write_row(
                        (
                            i,
                            seq,
                            market,
                            "BUY" if seq % 2 == 0 else "SELL",
                            "Banesco",
                            "320.5",
                            "VES",
                            "160250",
                            "USDT",
                            "499.75",
                            "0.25",
                            START + step * i,
                        )
                    )
        conn.execute("SELECT setval('trades_id_seq', %s)", (n,))
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE trades")
        conn.execute("VACUUM ANALYZE trade_legs")
    return time.perf_counter() - started


def grid_request(start: int, sort: list | None = None, args: dict | None = None) -> dict:
    request = {"startRow": start, "endRow": start + 100, "sortModel": sort or []}
    return {
        "output": "trades-grid.getRowsResponse",
        "outputs": {"id": "trades-grid", "property": "getRowsResponse"},
        "inputs": [{"id": "trades-grid", "property": "getRowsRequest", "value": request}],
        "state": [{"id": "trades-filter", "property": "data", "value": args or {}}],
        "changedPropIds": ["trades-grid.getRowsRequest"],
    }


TRIVIAL = {
    "output": "nav-collapse.is_open",
    "outputs": {"id": "nav-collapse", "property": "is_open"},
    "inputs": [{"id": "nav-toggle", "property": "n_clicks", "value": 1}],
    "state": [{"id": "nav-collapse", "property": "is_open", "value": False}],
    "changedPropIds": ["nav-toggle.n_clicks"],
}


def cases(n: int) -> dict[str, dict]:
    """The grid's requests; "deep" is half the history (row 500,000 of 10^6)."""
    deep = n // 200 * 100
    by_user = [{"colId": "requested_by", "sort": "asc"}]
    return {
        "trivial callback (menu toggle)": TRIVIAL,
        "first block, newest first": grid_request(0),
        "status = rejected": grid_request(0, args={"status": "rejected"}),
        "user = carla": grid_request(0, args={"user": "carla"}),
        "market = spot:BTC/USDT": grid_request(0, args={"market": "spot:BTC/USDT"}),
        "one day (2026-10-15)": grid_request(0, args={"from": "2026-10-15", "to": "2026-10-15"}),
        "sorted by profit, highest first": grid_request(
            0, [{"colId": "profit_usd", "sort": "desc"}]
        ),
        "sorted by user (A-Z)": grid_request(0, by_user),
        "sorted by status (Z-A)": grid_request(0, [{"colId": "status", "sort": "desc"}]),
        "block 10 (rows 1000-1099)": grid_request(1000),
        "half-way block, jumped to": grid_request(deep - 100),
        "next block, scrolled on (seek)": grid_request(deep),
        "by user, half-way block, jumped to": grid_request(deep - 100, by_user),
        "by user, next block, scrolled on (seek)": grid_request(deep, by_user),
    }


SUMMARY = "/api/v1/trades/summary"  # asked so that it never comes from the cache
SUMMARIES = {
    "everything": "",
    "user = carla": "user=carla",
    "status = rejected": "status=rejected",
    "market = spot:BTC/USDT": "market=spot:BTC/USDT",
    "one day (2026-10-15)": "from=2026-10-15&to=2026-10-15",
    "30 days, partial days at both ends": "from=2026-09-10T13:00Z&to=2026-10-10T09:30Z",
}


def time_callbacks(clients: dict[int, object], repeat: int) -> dict[tuple, tuple]:
    """(trades, case) -> (median ms, p95 ms, response bytes); each round runs every case
    on every database in turn, so sizes are compared under the same load (in order: each
    "scrolled on" block follows the block before it, as in the grid)."""
    calls = {}
    for n, client in clients.items():
        calls |= {(n, case): lambda c=client, body=body: c.post("/_dash-update-component",
                                                                json=body)
                  for case, body in cases(n).items()}  # fmt: skip
        calls |= {(n, f"summary: {case}"): lambda c=client, q=q: c.get(f"{SUMMARY}?{q}")
                  for case, q in SUMMARIES.items()}  # fmt: skip
    samples: dict[tuple, list[float]] = {key: [] for key in calls}
    sizes = {}
    for key, call in calls.items():  # warm each once (plans, caches, connections)
        reply = call()
        assert reply.status_code == 200, (key, reply.status_code, reply.text[:300])
        sizes[key] = len(reply.data)
    for _ in range(repeat):
        for key, call in calls.items():
            started = time.perf_counter()
            call()
            samples[key].append((time.perf_counter() - started) * 1000)
    return {
        key: (
            statistics.median(times),
            statistics.quantiles(times, n=20, method="inclusive")[18],
            sizes[key],
        )
        for key, times in samples.items()
    }


class NoSummaryCache(LocalCache):
    """The desk's cache, except that totals are never found there: what a summary costs
    when nobody asked for the same filter in the last 15 s."""

    def get(self, key: str) -> bytes | None:
        return None if key.startswith("trades:summary:") else super().get(key)


def time_direct_sums(desk, repeat: int) -> dict[str, tuple[float, float]]:
    """The totals as they were added up before the daily rollup: SUM over the trades."""
    found = {}
    for case in ("everything", "user = carla"):
        flt = trade_history.TradeFilter.parse(dict(parse_qsl(SUMMARIES[case])))
        times = []
        for _ in range(repeat):
            with desk.sessions() as session:
                started = time.perf_counter()
                trade_history.sums(session, flt)
                times.append((time.perf_counter() - started) * 1000)
        found[case] = (statistics.median(times), max(times))
    return found


def settings_for(url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=url.replace("postgresql://", "postgresql+psycopg://"),
        secret_key="bench-only-secret-key",
        log_level="WARNING",
    )


def viewer_client(app):
    """A test client acting as a viewer's script (a new token each run)."""
    desk = app.extensions["desk"]
    with desk.sessions.begin() as session:
        if users.find(session, "bench-viewer") is None:
            users.create(
                session, "bench-viewer", "viewer", uuid.uuid4().hex, actor="bench", now=desk.now()
            )
        token = tokens.create(
            session,
            f"bench-{uuid.uuid4().hex[:8]}",
            "bench-viewer",
            None,
            actor="bench",
            now=desk.now(),
        )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def export_child(url: str) -> None:
    """Runs in its own process: stream the whole export, print time, rows, peak RSS."""
    client = viewer_client(create_app(settings_for(url)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    reply = client.get("/api/v1/trades/export.csv", buffered=False)
    rows = size = 0
    for chunk in reply.response:
        rows += chunk.count(b"\n")
        size += len(chunk)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "rows": rows - 1,
                "bytes": size,
                "rss_before_kb": before,
                "rss_peak_kb": after,
            }
        )
    )


def report_export(url: str) -> None:
    """Stream the export of every trade in a child process and print what it cost."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.trades", "--export-child", url],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(child.stdout.strip().splitlines()[-1])
    rows, seconds = found["rows"], found["seconds"]
    peak, before = found["rss_peak_kb"] / 1024, found["rss_before_kb"] / 1024
    print(
        f"\nCSV export of every trade: {rows:,} rows, {found['bytes'] / 2**20:.0f} MB in "
        f"{seconds:.1f} s ({rows / seconds:,.0f} rows/s); peak RSS {peak:.0f} MB, "
        f"{peak - before:.0f} MB above the process before the export (sampled every chunk)"
    )


def prepare(admin_url: str, n: int, keep: bool, prefix: str):
    """(URL, desk, viewer client) of a migrated database holding n trades."""
    url, filled = database(admin_url, n, keep, prefix)
    settings = settings_for(url)
    started = time.perf_counter()
    migrate.upgrade(settings)  # on a database kept from before 0008: its rollup backfill
    print(f"{n:,} trades: migrations {time.perf_counter() - started:.1f} s")
    if not filled:
        print(f"filled {n:,} trades in {fill(url, n):.0f} s")
        started = time.perf_counter()  # COPY went round the application: add them up
        with create_engine(settings.database_url).begin() as conn:
            trade_days.rebuild(conn)
            trade_buckets.rebuild(conn)
            trade_hours.rebuild(conn)
        print(
            f"daily, hourly and 5-minute rollups rebuilt in {time.perf_counter() - started:.1f} s"
        )
    app = create_app(settings)
    desk = app.extensions["desk"]
    desk.cache = NoSummaryCache()
    return url, desk, viewer_client(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, help="also this many trades, in the same rounds")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database")
    parser.add_argument(
        "--prefix",
        default="desk_bench_trades",
        help="kept databases are PREFIX_<trades> (a branch with its own migrations: its own)",
    )
    parser.add_argument("--no-export", action="store_true", help="skip the CSV export")
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        return export_child(args.export_child)

    sizes = [args.trades] + ([args.small] if args.small else [])
    urls, desks, clients = {}, {}, {}
    for n in sizes:
        urls[n], desks[n], clients[n] = prepare(args.admin_url, n, args.keep, args.prefix)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    found = time_callbacks(clients, args.repeat)
    print(f"\nload average {load} before, {' '.join(f'{x:.2f}' for x in os.getloadavg())} after")
    deep = ", ".join(f"{n // 200 * 100 - 100:,} of {n:,}" for n in sizes)
    print(f"Trades callbacks, {args.repeat} rounds; the half-way block starts at row {deep}")
    head = " | ".join(f"{n:,} median | {n:,} p95" for n in sizes)
    ratio = f" | median, p95 {sizes[0]:,} / {sizes[1]:,}" if len(sizes) > 1 else ""
    print(f"| Request | {head}{ratio} | response |")
    print("|---" * (2 + 2 * len(sizes) + bool(ratio)) + "|")
    for case in dict.fromkeys(key[1] for key in found):
        keys = [(n, case) for n in sizes]
        cells = " | ".join(f"{found[k][0]:.1f} ms | {found[k][1]:.1f} ms" for k in keys)
        if ratio:
            big, small = found[keys[0]], found[keys[1]]
            cells += f" | {big[0] / small[0]:.2f}×, {big[1] / small[1]:.2f}×"
        print(f"| {case} | {cells} | {found[keys[0]][2] / 1024:.1f} KB |")
    print("\nDirect SUM over the trades (what totals cost before the rollup), 5 calls")
    for case, (median, worst) in time_direct_sums(desks[sizes[0]], 5).items():
        print(f"| {case} ({sizes[0]:,} trades) | {median:.0f} ms | max {worst:.0f} ms |")

    if not args.no_export:
        report_export(urls[sizes[0]])
    if not args.keep:
        for n in sizes:
            desks[n].sessions.kw["bind"].dispose()
            with psycopg.connect(args.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{urls[n].rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
