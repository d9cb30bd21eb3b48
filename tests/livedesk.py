"""A whole desk on the real services, each process started as production starts it:
gunicorn with its config, a prefork Celery worker serving its metrics on a port (as in
compose), and beat. Its URLs may point at a TCP proxy instead of the service itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from backend.market.book import Book, Market
from backend.market.replay import record_line
from tests.conftest import BIN, ROOT, TEST_PASSWORD, desk_command, free_port
from tests.factories import ad

SECRET = "live-desk-tests-only-secret"
# Simulated markets, plus one replayed crossed book: the desk's own scan keeps finding that
# opportunity, so a test can always trade on it.
CROSSED = "p2p:USDT/ARS"
MARKETS = f"p2p:USDT/VES,p2p:USDT/COP,p2p:USDT/BRL,spot:BTC/USDT,spot:USDT/BRL,{CROSSED}"


def crossed_recording(path: Path) -> Path:
    book = Book(
        Market.parse(CROSSED),
        (ad(1400, 5000, methods=("Banesco",)),),
        (ad(1450, 5000, methods=("Mercantil",)),),
        datetime.now(UTC),
        "simulator",
    ).sorted()
    path.write_text(record_line(book, "simulator", datetime.now(UTC)))
    return path


def fresh_vhost(base_url: str) -> str:
    """A private RabbitMQ vhost: no message of another desk can reach this one's worker."""
    vhost = f"desk_live_{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    return base_url.rstrip("/") + "/" + vhost


def drop_vhost(url: str) -> None:
    subprocess.run(["rabbitmqctl", "delete_vhost", url.rsplit("/", 1)[1]], capture_output=True)


@dataclass
class LiveDesk:
    home: Path
    env: dict[str, str]
    url: str = ""
    worker_metrics: str = ""
    token: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, timeout: float = 10, **kwargs) -> requests.Response:
        return requests.get(self.url + path, headers=self.auth, timeout=timeout, **kwargs)

    def post(self, path: str, timeout: float = 10, **kwargs) -> requests.Response:
        headers = self.auth | kwargs.pop("headers", {})
        return requests.post(self.url + path, headers=headers, timeout=timeout, **kwargs)

    def crossed_opportunity(self, timeout: float = 30) -> int:
        """The id of the opportunity on the replayed crossed book."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for opp in self.get("/api/v1/opportunities").json()["opportunities"]:
                if any(leg["market"] == CROSSED for leg in opp["legs"]):
                    return opp["id"]
            time.sleep(0.3)
        pytest.fail(f"no opportunity on {CROSSED} within {timeout} s")

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")

    def start(self, name: str, args: list[str], extra_env: dict | None = None) -> None:
        metrics_dir = self.home / f"metrics-{name}"
        metrics_dir.mkdir(exist_ok=True)
        env = self.env | {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)} | (extra_env or {})
        with open(self.home / f"{name}.log", "a") as out:
            self.processes[name] = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def signal(self, name: str, sig: int) -> None:
        """Send ``sig`` to a process's group and leave it there (SIGSTOP freezes it)."""
        os.killpg(self.processes[name].pid, sig)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def start_worker(self) -> None:
        self.start(
            "worker",
            [
                sys.executable, "-m", "celery", "--quiet", "--app", "tasks.worker", "worker",
                "--queues", "market,trading,default", "--concurrency", "2",
                "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            ],
            {"WORKER_METRICS_PORT": self.worker_metrics.rsplit(":", 1)[1]},
        )  # fmt: skip

    def start_beat(self) -> None:
        self.start(
            "beat",
            [
                sys.executable, "-m", "celery", "--quiet", "--app", "tasks.worker", "beat",
                "--schedule", str(self.home / "beat-schedule"), "--loglevel", "INFO",
            ],
        )  # fmt: skip


def start_live_desk(
    home: Path,
    database_url: str,
    redis_url: str,
    rabbitmq_url: str,
    *,
    worker: bool = True,
    beat: bool = True,
    web_threads: int = 4,
    extra_env: dict | None = None,
) -> LiveDesk:
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LOG_"))}
        | {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "RABBITMQ_URL": rabbitmq_url,
            "SECRET_KEY": SECRET,
            "MARKETS": MARKETS,
            "MARKET_SOURCES": f"{CROSSED}=replay",
            "REPLAY_PATH": str(crossed_recording(home / "crossed.jsonl")),
            "INGEST_INTERVAL_SECONDS": "1",
            "LOG_FORMAT": "json",
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "WEB_THREADS": str(web_threads),
            "WEB_CONCURRENCY": "1",
        }
        | (extra_env or {})
    )
    desk = LiveDesk(home, env)
    desk_command(env, "db", "upgrade")
    desk_command(env, "db", "seed")
    desk_command(env, "balances", "deposit", "binance:USDT", "1000000", "--reason", "paper money")
    desk_command(env, "users", "create", "live", "--role", "trader", "--password-stdin",
                 stdin=TEST_PASSWORD + "\n")  # fmt: skip
    desk.token = desk_command(env, "tokens", "create", "live", "--user", "live").strip()
    port = free_port()
    desk.url = f"http://127.0.0.1:{port}"
    desk.worker_metrics = f"127.0.0.1:{free_port()}"
    desk.start(
        "web",
        [str(BIN / "gunicorn"), "--config", "backend/gunicorn_conf.py", "backend:create_app()"],
        {"PORT": str(port)},
    )
    if worker:
        desk.start_worker()
    if beat:
        desk.start_beat()
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(desk.url + "/api/v1/health/db", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if desk.processes["web"].poll() is not None or time.monotonic() > deadline:
            desk.stop_all()
            pytest.fail(f"the live desk did not start:\n{desk.log('web')[-3000:]}")
        time.sleep(0.25)
    return desk
