"""pg_dump/pg_restore round trip on a real PostgreSQL 15, through the operator commands."""

import pytest

from backend import migrate
from backend.config import Settings
from backend.ops import backup
from tests.backup_check import desk_cli, make_history, snapshot, wreck
from tests.conftest import prepared_app
from tests.integration.conftest import TEST_SECRET


@pytest.fixture
def pg_settings(make_pg_database):
    return Settings(_env_file=None, database_url=make_pg_database(), secret_key=TEST_SECRET)


def test_a_pg_dump_restores_trades_events_users_and_settings(pg_settings, tmp_path):
    migrate.upgrade(pg_settings)
    app = prepared_app(pg_settings)
    make_history(app)
    before = snapshot(app)
    dump = tmp_path / "desk.dump"
    made = desk_cli(pg_settings, "backup", str(dump))
    assert made.returncode == 0, made.stderr
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    wreck(app)
    assert snapshot(app) != before
    restored = desk_cli(pg_settings, "restore", "--yes", str(dump))
    assert restored.returncode == 0, restored.stderr
    assert snapshot(app) == before


def test_the_client_must_not_be_older_than_the_server(pg_settings, tmp_path):
    backup.check_client(pg_settings, "pg_dump")  # Debian's 15 against the 15 server
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.9'\n")
    old.chmod(0o755)
    with pytest.raises(backup.BackupError, match="pg_dump 13 is older than the PostgreSQL 15"):
        backup.check_client(pg_settings, str(old))
