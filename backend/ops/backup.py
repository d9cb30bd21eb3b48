"""Backups of the whole desk database to one file, and restores from one.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean``, with the password in
the environment (never on a command line ``ps`` shows). The client's major version must
be at least the server's (pg_dump refuses a newer server; the compose image and the
server are both 15). On TimescaleDB the restore is wrapped in
``timescaledb_pre_restore()``/``timescaledb_post_restore()``, as Timescale requires.

SQLite (the embedded default): the online backup API, page by page, consistent while the
desk keeps writing; a restore copies the file back the same way.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from backend.config import Settings
from backend.db import get_engine


class BackupError(Exception):
    pass


def _libpq_env(settings: Settings) -> dict[str, str]:
    url = make_url(settings.database_url)
    env = os.environ | {
        "PGHOST": url.host or "localhost",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PGDATABASE": url.database or "postgres",
        "PGCONNECT_TIMEOUT": str(settings.db_connect_timeout_seconds),
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    if match is None:
        raise BackupError(f"cannot read a version in {version_text!r}")
    return int(match.group(1))


def check_client(settings: Settings, tool: str) -> None:
    """pg_dump/pg_restore must be at least the server's major version."""
    client = _major(subprocess.run([tool, "--version"], capture_output=True, text=True).stdout)
    with get_engine(settings).connect() as conn:
        server = int(conn.scalar(text("SHOW server_version_num"))) // 10000
    if client < server:
        raise BackupError(
            f"{Path(tool).name} {client} is older than the PostgreSQL {server} server; "
            f"install postgresql-client-{server}"
        )


def _timescale(settings: Settings) -> bool:
    with get_engine(settings).connect() as conn:
        return bool(
            conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"))
        )


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip()[-2000:]}")


def backup(settings: Settings, path: Path) -> None:
    path = Path(path)
    if settings.embedded:
        with sqlite3.connect(_sqlite_path(settings)) as src, sqlite3.connect(path) as dest:
            src.backup(dest)
        return
    tool = _tool("pg_dump")
    check_client(settings, tool)
    _run([tool, "--format=custom", "--no-owner", f"--file={path}"], _libpq_env(settings))


def restore(settings: Settings, path: Path) -> None:
    """Replace the desk's data with the backup's. Stop web, worker and beat first."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    if settings.embedded:
        with sqlite3.connect(path) as src, sqlite3.connect(_sqlite_path(settings)) as dest:
            src.backup(dest)
        return
    tool = _tool("pg_restore")
    check_client(settings, tool)
    timescale = _timescale(settings)
    engine = get_engine(settings)
    if timescale:
        with engine.begin() as conn:
            conn.execute(text("SELECT timescaledb_pre_restore()"))
    env = _libpq_env(settings) | {"PGOPTIONS": "-c statement_timeout=0"}
    try:
        _run(
            [
                tool,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                f"--dbname={env['PGDATABASE']}",
                str(path),
            ],
            env,
        )
    finally:
        if timescale:
            with engine.begin() as conn:
                conn.execute(text("SELECT timescaledb_post_restore()"))
        engine.dispose()  # pooled connections knew the tables that were dropped


def _sqlite_path(settings: Settings) -> str:
    return settings.database_url.split("///", 1)[-1]
