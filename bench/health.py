"""Health URL benchmark: `/api/v1/health` against a trivial route, same server, same run.

    .venv/bin/python -m bench.health [--rounds 3] [--duration 10] [--connections 64]

Starts gunicorn exactly as production does (``backend/gunicorn_conf.py``) on a throw-away
embedded desk whose app also has ``/bench/trivial`` (public, returns "ok"), keeps the
worker heartbeat fresh so health answers 200, then alternates ``wrk -t2 -cN`` runs on the
two URLs and prints the medians of requests/s and latency percentiles, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
URLS = {"health": "/api/v1/health", "trivial": "/bench/trivial"}


def bench_app():
    """The desk's app plus one trivial public route (gunicorn's app factory)."""
    from backend import create_app
    from backend.web.access import PUBLIC, access

    app = create_app()

    @app.get("/bench/trivial")
    @access(PUBLIC)
    def trivial():
        return "ok"

    return app


def _seconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(
    url: str, duration: int, connections: int, script=None, headers: dict | None = None
) -> dict[str, float]:
    """One wrk run; ``script`` a Lua file (e.g. a POST body), ``headers`` sent as given."""
    extra = [f"--script={script}"] if script else []
    for name, value in (headers or {}).items():
        extra += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "90", "99"):
        result[f"p{pct}"] = _seconds(re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = float(errors.group(1)) if errors else 0.0
    return result


def keep_heartbeat(database_url: str, stop: threading.Event) -> None:
    """What beat's heartbeat task does, so /api/v1/health/celery is green."""
    from backend.config import Settings
    from backend.db import session_factory
    from backend.models import Setting

    sessions = session_factory(Settings(_env_file=None, database_url=database_url))
    while not stop.is_set():
        now = datetime.now(UTC)
        with sessions.begin() as session:
            session.merge(Setting(key="worker_heartbeat", value=now.isoformat(), updated_at=now))
        stop.wait(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-health-"))
    database_url = f"sqlite:///{home / 'desk.sqlite3'}"
    port = 18000 + os.getpid() % 1000
    env = os.environ | {
        "DATABASE_URL": database_url,
        "PROMETHEUS_MULTIPROC_DIR": str(home / "metrics"),
        "PORT": str(port),
    }
    (home / "metrics").mkdir()
    subprocess.run([sys.executable, "-m", "backend", "db", "upgrade"], env=env, cwd=ROOT,
                   check=True, capture_output=True)  # fmt: skip
    stop = threading.Event()
    threading.Thread(target=keep_heartbeat, args=(database_url, stop), daemon=True).start()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "backend/gunicorn_conf.py", "bench.health:bench_app()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + URLS["health"], timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                sys.exit("the desk did not get healthy")
            time.sleep(0.5)
        runs: dict[str, list[dict]] = {name: [] for name in URLS}
        for n in range(args.rounds):
            for name, path in URLS.items():
                runs[name].append(wrk(base + path, args.duration, args.connections))
                print(f"round {n + 1} {name}: {runs[name][-1]}", file=sys.stderr)
    finally:
        stop.set()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    med = {
        name: {k: statistics.median(r[k] for r in results) for k in results[0]}
        for name, results in runs.items()
    }
    print(f"wrk -t2 -c{args.connections} -d{args.duration}s, medians of {args.rounds} rounds")
    print("| URL | requests/s | p50 | p90 | p99 | non-2xx |")
    print("|---|---|---|---|---|---|")
    for name, m in med.items():
        print(
            f"| {URLS[name]} | {m['rps']:,.0f} | {m['p50'] * 1000:.1f} ms | "
            f"{m['p90'] * 1000:.1f} ms | {m['p99'] * 1000:.1f} ms | {m['non2xx']:.0f} |"
        )
    print(
        f"health / trivial: requests/s {med['health']['rps'] / med['trivial']['rps']:.2f}, "
        f"p99 {med['health']['p99'] / med['trivial']['p99']:.2f}"
    )


if __name__ == "__main__":
    main()
