"""Round trips and CPU of one click, counted: the POST of ``bench.click_to_filled``, then
the worker's ``executor.execute`` run in this process, so that every wait is seen.

    .venv/bin/python -m bench.fill_round_trips [--trades 60] [--redis-url redis://...]

Per trade, for the request (the POST, from the guard to the 201) and for the fill (the
claim's and the fill's transactions), the medians of: SQL statements (SQLAlchemy's cursor
events), waits on PostgreSQL (each one round trip: statements, BEGIN, COMMIT and the
pool's ping at checkout; a driver call that needs no I/O is not counted), the CPU time of
the thread, and wall time. No queue is crossed: the counts are exact; CPU and wall time
still depend on the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import event

from bench.click_to_filled import bench_desk, fresh_opportunity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=60)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()

    from backend import db
    from backend.trading import executor

    counts = {"statements": 0, "waits": 0}

    def statement(*_):
        counts["statements"] += 1

    plain_wait = db.BoundedConnection.wait

    def on_the_wire(gen):
        """``gen`` as psycopg drives it, counted if it waits for the socket at least once
        (setting ``autocommit`` on an idle connection goes through ``wait`` without I/O)."""
        try:
            state = next(gen)
        except StopIteration as done:
            return done.value
        counts["waits"] += 1
        while True:
            ready = yield state
            try:
                state = gen.send(ready)
            except StopIteration as done:
                return done.value

    def counted_wait(self, gen, *a, **k):
        return plain_wait(self, on_the_wire(gen), *a, **k)

    db.BoundedConnection.wait = counted_wait
    seen = {
        side: {k: [] for k in ("statements", "waits", "cpu", "wall")}
        for side in ("request", "fill")
    }
    with bench_desk(args.redis_url) as bench:
        desk = bench.desk
        event.listen(db.get_engine(desk.settings), "after_cursor_execute", statement)
        for n in range(args.trades):
            opportunity = fresh_opportunity(bench)
            trade_id = measure(counts, seen["request"], post, bench, opportunity, f"count-{n}")
            with bench.app.app_context():
                status = measure(
                    counts, seen["fill"], executor.execute,
                    desk.sessions, desk.cache, desk.settings, trade_id, desk.now, "bench",
                )  # fmt: skip
            assert status == "filled", status
    print(f"{args.trades} trades, medians per trade")
    print("| Side | SQL statements | waits on PostgreSQL | CPU | wall |")
    print("|---|---|---|---|---|")
    for side, values in seen.items():
        median = {k: statistics.median(v) for k, v in values.items()}
        print(
            f"| {side} | {median['statements']:.0f} | {median['waits']:.0f} | "
            f"{median['cpu']:.1f} ms | {median['wall']:.1f} ms |"
        )


def post(bench, opportunity: int, key: str) -> int:
    r = bench.client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity, "size": "1000"},
        headers={"Idempotency-Key": key},
    )
    assert r.status_code == 201, r.json
    return r.json["id"]


def measure(counts: dict, into: dict, run, *args):
    """``run(*args)``, its statements, waits, CPU and wall time appended to ``into``."""
    counts.update(statements=0, waits=0)
    cpu, wall = time.thread_time(), time.perf_counter()
    result = run(*args)
    into["cpu"].append((time.thread_time() - cpu) * 1000)
    into["wall"].append((time.perf_counter() - wall) * 1000)
    into["statements"].append(counts["statements"])
    into["waits"].append(counts["waits"])
    return result


if __name__ == "__main__":
    main()
