"""The Prices board under load: `/api/v1/prices` and the Prices page's callback against a
trivial route, same server, same run (goal: ≥ 0.5× the trivial route's requests/s).

    .venv/bin/python -m bench.prices [--rounds 3] [--duration 10] [--connections 64]

gunicorn as production runs it on a throw-away embedded desk holding a book for each of
the 11 default markets (stored by ``ingest.store``, which computes the board once per
book); the callback is posted as Dash's renderer posts it (ticket size, payment method),
with a viewer's bearer token. ``wrk -t2 -cN`` alternates between the URLs; the trivial
route is timed public and behind the same token, to show what authentication costs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.health import bench_app as health_app
from bench.health import wrk

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CALLBACK = {
    "output": "..prices-grid.rowData...price-method.options...prices-hint.children..",
    "outputs": [
        {"id": "prices-grid", "property": "rowData"},
        {"id": "price-method", "property": "options"},
        {"id": "prices-hint", "property": "children"},
    ],
    "inputs": [
        {"id": "ticket-size", "property": "value", "value": "500"},
        {"id": "price-method", "property": "value", "value": ""},
        {"id": "prices-tick", "property": "n_intervals", "value": 1},
        {"id": "prices-push", "property": "data", "value": None},
    ],
    "changedPropIds": ["prices-tick.n_intervals"],
    "state": [],
}


def bench_app():
    """The desk plus ``/bench/trivial`` (public) and ``/bench/trivial-viewer`` (the same
    "ok" behind a viewer's token: what authentication alone costs)."""
    from backend.web.access import VIEWER, access

    app = health_app()

    @app.get("/bench/trivial-viewer")
    @access(VIEWER)
    def trivial_viewer():
        return "ok"

    return app


def seed_books(database_url: str) -> None:
    """One simulated book per market, stored the way the ingest task stores it."""
    from backend.cache import LocalCache
    from backend.config import Settings
    from backend.db import session_factory
    from backend.market import ingest
    from backend.market.book import Market
    from backend.market.simulator import Simulator

    settings = Settings(_env_file=None, database_url=database_url)
    now = datetime.now(UTC)
    source, sessions = Simulator(clock=lambda: now), session_factory(settings)
    for key in sorted(settings.markets, key=lambda k: not k.startswith("spot:")):  # USD first
        with sessions.begin() as session:
            ingest.ingest(session, LocalCache(), settings, source, Market.parse(key), now)


def post_script(home: Path, token: str) -> Path:
    script = home / "callback.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(CALLBACK))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-prices-"))
    database_url = f"sqlite:///{home / 'desk.sqlite3'}"
    port = 18500 + os.getpid() % 1000
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RABBITMQ_URL")} | {
        "DATABASE_URL": database_url,
        "PROMETHEUS_MULTIPROC_DIR": str(home / "metrics"),
        "PORT": str(port),
        # every request of the run comes from one client: no throttling in the way
        "TRADE_RATE_LIMIT": "1000000/minute",
    }
    (home / "metrics").mkdir()

    def desk(*argv: str, stdin: str | None = None) -> str:
        command = [sys.executable, "-m", "backend", *argv]
        return subprocess.run(
            command, env=env, cwd=ROOT, check=True, capture_output=True, text=True, input=stdin
        ).stdout

    desk("db", "upgrade")
    desk("users", "create", "bench", "--role", "viewer", "--password-stdin", stdin="x" * 12)
    token = desk("tokens", "create", "bench", "--user", "bench").strip()
    seed_books(database_url)
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "backend/gunicorn_conf.py", "bench.prices:bench_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    script = post_script(home, token)
    urls = {
        "/bench/trivial": (base + "/bench/trivial", None),
        "/bench/trivial-viewer": (base + "/bench/trivial-viewer", None),
        "/api/v1/prices": (base + "/api/v1/prices", None),
        "Prices callback": (base + "/_dash-update-component", script),
    }
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/api/v1/prices", headers=auth, timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                sys.exit("the desk did not start")
            time.sleep(0.5)
        check = requests.post(base + "/_dash-update-component", json=CALLBACK, headers=auth)
        assert check.ok and len(check.json()["response"]["prices-grid"]["rowData"]) == 11
        runs: dict[str, list[dict]] = {name: [] for name in urls}
        for n in range(args.rounds):
            for name, (url, lua) in urls.items():
                runs[name].append(wrk(url, args.duration, args.connections, lua, auth))
                print(f"round {n + 1} {name}: {runs[name][-1]}", file=sys.stderr)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    med = {
        name: {k: statistics.median(r[k] for r in results) for k in results[0]}
        for name, results in runs.items()
    }
    print(f"wrk -t2 -c{args.connections} -d{args.duration}s, medians of {args.rounds} rounds")
    print("| URL | requests/s | p50 | p90 | p99 | non-2xx | × trivial | × trivial with the token |")
    print("|---|---|---|---|---|---|---|---|")
    trivial, behind = med["/bench/trivial"]["rps"], med["/bench/trivial-viewer"]["rps"]
    for name, m in med.items():
        print(
            f"| {name} | {m['rps']:,.0f} | {m['p50'] * 1000:.1f} ms | {m['p90'] * 1000:.1f} ms "
            f"| {m['p99'] * 1000:.1f} ms | {m['non2xx']:.0f} | {m['rps'] / trivial:.2f} "
            f"| {m['rps'] / behind:.2f} |"
        )


if __name__ == "__main__":
    main()
