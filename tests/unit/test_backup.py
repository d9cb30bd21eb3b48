"""The embedded desk's backup and restore (SQLite's online backup API), as operators run them."""

from tests.backup_check import desk_cli, make_history, snapshot, wreck


def test_a_backup_restores_trades_events_users_and_settings(app, settings, tmp_path):
    make_history(app)
    before = snapshot(app)
    assert before["trades"] and before["events"] and before["legs"]
    dump = tmp_path / "desk.backup"
    made = desk_cli(settings, "backup", str(dump))
    assert made.returncode == 0, made.stderr
    wreck(app)
    assert snapshot(app) != before
    restored = desk_cli(settings, "restore", "--yes", str(dump))
    assert restored.returncode == 0, restored.stderr
    assert snapshot(app) == before


def test_restore_asks_first_and_a_missing_file_changes_nothing(app, settings, tmp_path):
    make_history(app)
    before = snapshot(app)
    refused = desk_cli(settings, "restore", str(tmp_path / "nope.backup"))
    assert refused.returncode != 0 and "does not exist" in refused.stderr
    assert snapshot(app) == before
