"""Where a candle chart's time goes: the read (SQL and Decimals), the figure's lists and
its JSON, for each range of the market page, one-minute candles against the page's own
step, in process on a database that ``bench.scale --keep`` filled.

    .venv/bin/python -m bench.candles [--ticks 10000000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import timedelta

import psycopg

from backend.desk import Desk
from backend.market import candles
from backend.market.book import Market
from bench.trades import settings_for
from dashboard.pages.market import candle_figure

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    url = ADMIN.rsplit("/", 1)[0] + f"/desk_bench_ticks_{args.ticks}"
    with psycopg.connect(url) as conn:
        now = conn.execute("SELECT max(time) FROM price_ticks").fetchone()[0]
    desk, key = Desk(settings_for(url)), "p2p:USDT/VES"
    print("| Range | Step | Candles | Read (median ms) | Figure | JSON | JSON size |")
    print("|---|---|---|---|---|---|---|")
    for minutes in (15, 60, 360, 1440):
        span = timedelta(minutes=minutes)
        for step in sorted({candles.MINUTE, candles.step_for(span)}):
            read, build, dump = [], [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                with desk.sessions() as session:
                    rows = candles.candles(session, key, now - span, step)
                built = time.perf_counter()
                fig = candle_figure(rows, Market.parse(key))
                dumped = time.perf_counter()
                text = json.dumps(fig)
                done = time.perf_counter()
                read.append((built - started) * 1000)
                build.append((dumped - built) * 1000)
                dump.append((done - dumped) * 1000)
            print(
                f"| {minutes} min | {step.seconds // 60} min | {len(rows)} | "
                f"{statistics.median(read):.2f} | {statistics.median(build):.2f} | "
                f"{statistics.median(dump):.2f} | {len(text) / 1024:.0f} KB |"
            )


if __name__ == "__main__":
    main()
