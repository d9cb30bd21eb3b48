"""Fixtures the way flaskr has them: settings -> app -> client, plus the real services.

PROMETHEUS_MULTIPROC_DIR is set before anything imports prometheus_client, exactly as
the process that starts gunicorn or a worker does.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="desk-metrics-")

import pytest
import requests
from hypothesis import settings as hypothesis_settings

from backend import create_app, migrate, seed
from backend.config import Settings
from backend.models import User
from backend.web import tokens, users

# No wall-clock deadline on a shared 2-core machine; in CI, a fixed sequence of examples
# so a landing never hinges on luck (run locally, hypothesis keeps exploring).
hypothesis_settings.register_profile("ci", deadline=None, derandomize=True)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SERVICES = {
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "redis": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
START_HINT = (
    "start it (PostgreSQL: pg_ctlcluster ... main start, "
    "Redis: redis-server --daemonize yes ..., RabbitMQ: rabbitmq-server -detached)"
)


def pytest_collection_modifyitems(items):
    """Everything under tests/integration needs the real services."""
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.services)


def embedded_settings(tmp_path, **overrides) -> Settings:
    values = {
        "database_url": f"sqlite:///{tmp_path / 'desk.sqlite3'}",
        "redis_url": None,
        "rabbitmq_url": None,
    } | overrides
    return Settings(_env_file=None, **values)


def prepared_app(settings: Settings, paper: bool | None = None):
    """A migrated, seeded desk; ``paper``: with the demo's paper balances (default: on
    the embedded demo only, as ``seed`` does)."""
    migrate.upgrade(settings)
    app = create_app(settings)
    desk = app.extensions["desk"]
    with desk.sessions.begin() as session:
        seed.seed(session, settings, desk.now(), paper=paper)
    return app


TEST_PASSWORD = "correct horse battery staple"
DEMO_LOGIN = re.compile(r"user admin, password (\S+)")


@functools.cache
def _test_password_hash() -> str:
    """argon2 is slow on purpose: hash the tests' password once per session."""
    return users.HASHER.hash(TEST_PASSWORD)


def add_user(desk, username: str, role: str) -> None:
    """A login with TEST_PASSWORD, unless it exists already."""
    with desk.sessions.begin() as session:
        if users.find(session, username) is None:
            session.add(
                User(
                    username=username,
                    role=role,
                    password_hash=_test_password_hash(),
                    created_at=desk.now(),
                    session_version=1,
                )
            )


def add_token(desk, username: str) -> str:
    with desk.sessions.begin() as session:
        return tokens.create(
            session, f"t-{uuid.uuid4().hex[:12]}", username, None, actor="tests", now=desk.now()
        )


def api_client(app, role: str = "trader"):
    """A test client that acts as a script with a ``role`` user's token."""
    desk = app.extensions["desk"]
    add_user(desk, f"test-{role}", role)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {add_token(desk, f'test-{role}')}"
    return client


@pytest.fixture
def settings(tmp_path) -> Settings:
    return embedded_settings(tmp_path)


@pytest.fixture
def app(settings):
    return prepared_app(settings)


@pytest.fixture
def client(app):
    """A trader's script: may read everything and execute trades."""
    return api_client(app, "trader")


@pytest.fixture
def anonymous(app):
    return app.test_client()


@pytest.fixture
def desk(app):
    return app.extensions["desk"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningDesk:
    url: str
    process: subprocess.Popen
    log: Path
    started: float
    admin_password: str  # the demo admin's, as `db seed` printed it
    token: str  # a trader's API token

    def get(self, path: str, timeout: float = 5) -> requests.Response:
        return requests.get(self.url + path, headers=self.auth, timeout=timeout)

    def post(self, path: str, timeout: float = 5, **kwargs) -> requests.Response:
        headers = self.auth | kwargs.pop("headers", {})
        return requests.post(self.url + path, headers=headers, timeout=timeout, **kwargs)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def desk_command(env: dict, *args: str, stdin: str | None = None) -> str:
    """``python -m backend ARGS`` as an operator runs it; its standard output."""
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        input=stdin,
    ).stdout


def start_embedded_desk(home: Path) -> RunningDesk:
    """The whole desk exactly as `make run` starts it (honcho + Procfile), on SQLite."""
    metrics_dir = home / "prometheus"
    metrics_dir.mkdir()
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{home / 'desk.sqlite3'}",
        "BEAT_SCHEDULE": str(home / "beat"),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    for var in ("REDIS_URL", "RABBITMQ_URL"):
        env.pop(var, None)
    desk_command(env, "db", "upgrade")
    admin_password = DEMO_LOGIN.search(desk_command(env, "db", "seed")).group(1)
    for role in ("trader", "viewer"):  # each logs in with TEST_PASSWORD
        desk_command(
            env,
            "users",
            "create",
            role,
            "--role",
            role,
            "--password-stdin",
            stdin=TEST_PASSWORD + "\n",
        )
    token = desk_command(env, "tokens", "create", "tests", "--user", "trader").strip()
    port = free_port()
    log = home / "honcho.log"
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(BIN / "honcho"), "start", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    desk = RunningDesk(f"http://127.0.0.1:{port}", proc, log, started, admin_password, token)
    deadline = time.monotonic() + 60
    while True:
        try:
            if desk.get("/api/v1/health/db", timeout=2).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or still importing
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the desk did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)
    return desk


def stop_embedded_desk(desk: RunningDesk) -> None:
    if desk.process.poll() is None:
        os.killpg(desk.process.pid, signal.SIGINT)
        try:
            desk.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(desk.process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def embedded_desk(tmp_path_factory):
    desk = start_embedded_desk(tmp_path_factory.mktemp("desk"))
    yield desk
    stop_embedded_desk(desk)


@contextmanager
def web_only(home: Path, users=(("viewer", "viewer"),), env: dict | None = None):
    """gunicorn alone (no worker, no beat) on a fresh migrated SQLite with these
    (name, role) logins (password TEST_PASSWORD) and ``env`` on top; yields its URL and a
    token per user."""
    env = (
        os.environ
        | {
            "DATABASE_URL": f"sqlite:///{home / 'desk.sqlite3'}",
            "PROMETHEUS_MULTIPROC_DIR": str(home),
            "PORT": str(free_port()),
        }
        | (env or {})
    )
    desk_command(env, "db", "upgrade")
    tokens = {}
    for name, role in users:
        desk_command(
            env,
            "users",
            "create",
            name,
            "--role",
            role,
            "--password-stdin",
            stdin=TEST_PASSWORD + "\n",
        )
        tokens[name] = desk_command(
            env, "tokens", "create", f"{name}-token", "--user", name
        ).strip()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "backend/gunicorn_conf.py", "backend:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    port = int(env["PORT"])
    try:
        deadline = time.monotonic() + 30
        while True:  # listening; no HTTP request yet, so every worker is still cold
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
