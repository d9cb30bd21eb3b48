"""The same migrations build the same schema on SQLite and on PostgreSQL, and undo it."""

from sqlalchemy import inspect

from backend import migrate
from backend.config import Settings
from backend.db import get_engine

TABLES = {
    "markets",
    "price_ticks",
    "ad_snapshots",
    "latest_books",
    "opportunities",
    "trades",
    "trade_legs",
    "trade_events",
    "accounts",
    "journal_entries",
    "postings",
    "liquidity_takes",
    "settings",
    "users",
}


def roundtrip(settings: Settings) -> None:
    engine = get_engine(settings)
    migrate.upgrade(settings)
    assert set(inspect(engine).get_table_names()) >= TABLES
    migrate.downgrade(settings, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(settings)
    columns = {c["name"]: c for c in inspect(engine).get_columns("trade_legs")}
    assert "sell_amount" in columns and "buy_amount" in columns


def test_migrations_run_on_sqlite(tmp_path):
    roundtrip(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'm.sqlite3'}"))


def test_migrations_run_on_postgresql(make_pg_database):
    settings = Settings(
        _env_file=None, database_url=make_pg_database(), secret_key="migrations-tests-only"
    )
    roundtrip(settings)
    engine = get_engine(settings)
    columns = {c["name"]: c for c in inspect(engine).get_columns("trades")}
    assert str(columns["profit_usd"]["type"]) == "NUMERIC(38, 18)"
    assert columns["created_at"]["type"].timezone is True
