"""Initial schema; hypertables, 1-minute candles and retention when TimescaleDB is present.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.types import Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def timescale_available(bind) -> bool:
    """True when TimescaleDB is installed in this database, or can be (preloaded)."""
    if bind.dialect.name != "postgresql":
        return False
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).scalar():
        return True
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).scalar()
    preloaded = "timescaledb" in (
        bind.execute(sa.text("SELECT current_setting('shared_preload_libraries', true)")).scalar()
        or ""
    )
    if available and preloaded:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
        return True
    return False


def upgrade() -> None:
    op.create_table(
        "markets",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("venue", sa.String(8), nullable=False),
        sa.Column("asset", sa.String(10), nullable=False),
        sa.Column("fiat", sa.String(10), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "price_ticks",
        sa.Column("market", sa.String(32), primary_key=True),
        sa.Column("time", UTCDateTime, primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("best_bid", Money),
        sa.Column("best_ask", Money),
        sa.Column("mid", Money),
        sa.Column("effective_bid", Money),
        sa.Column("effective_ask", Money),
        sa.Column("ticket_usd", Money, nullable=False),
        sa.Column("bid_depth", Money, nullable=False),
        sa.Column("ask_depth", Money, nullable=False),
    )
    op.create_table(
        "ad_snapshots",
        sa.Column("market", sa.String(32), primary_key=True),
        sa.Column("side", sa.String(4), primary_key=True),
        sa.Column("ad_no", sa.String(40), primary_key=True),
        sa.Column("time", UTCDateTime, primary_key=True),
        sa.Column("price", Money, nullable=False),
        sa.Column("quantity", Money, nullable=False),
        sa.Column("min_amount", Money, nullable=False),
        sa.Column("max_amount", Money),
        sa.Column("methods", sa.String(255), nullable=False),
        sa.Column("advertiser", sa.String(64), nullable=False),
        sa.Column("user_type", sa.String(10), nullable=False),
        sa.Column("month_orders", sa.Integer, nullable=False),
        sa.Column("finish_rate", Money, nullable=False),
    )
    op.create_table(
        "latest_books",
        sa.Column("market", sa.String(32), primary_key=True),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("book", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(255), nullable=False, index=True),
        sa.Column("strategy", sa.String(20), nullable=False),
        sa.Column("legs", sa.JSON, nullable=False),
        sa.Column("size_usd", Money, nullable=False),
        sa.Column("profit_usd", Money, nullable=False),
        sa.Column("profit_bps", Money, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("opportunity_id", sa.Integer, sa.ForeignKey("opportunities.id"), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("strategy", sa.String(20), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("size_usd", Money, nullable=False),
        sa.Column("expected_profit_usd", Money, nullable=False),
        sa.Column("profit_usd", Money),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "trade_legs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trade_id", sa.Integer, sa.ForeignKey("trades.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("market", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("method", sa.String(40)),
        sa.Column("price", Money, nullable=False),
        sa.Column("sell_currency", sa.String(10), nullable=False),
        sa.Column("sell_amount", Money, nullable=False),
        sa.Column("buy_currency", sa.String(10), nullable=False),
        sa.Column("buy_amount", Money, nullable=False),
        sa.Column("fee", Money, nullable=False),
        sa.Column("filled_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "trade_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trade_id", sa.Integer, sa.ForeignKey("trades.id"), nullable=False, index=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("from_status", sa.String(12)),
        sa.Column("to_status", sa.String(12), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_table(
        "balances",
        sa.Column("currency", sa.String(10), primary_key=True),
        sa.Column("amount", Money, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )

    if timescale_available(op.get_bind()):
        op.execute(
            "SELECT create_hypertable('price_ticks', 'time', "
            "chunk_time_interval => INTERVAL '1 day')"
        )
        op.execute(
            "SELECT create_hypertable('ad_snapshots', 'time', "
            "chunk_time_interval => INTERVAL '1 day')"
        )
        op.execute("SELECT add_retention_policy('ad_snapshots', INTERVAL '14 days')")
        op.execute("SELECT add_retention_policy('price_ticks', INTERVAL '180 days')")
        # Closed days compress ~10x: segment by what queries filter on, order by time.
        op.execute(
            "ALTER TABLE ad_snapshots SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'market, side', "
            "timescaledb.compress_orderby = 'ad_no, time DESC')"
        )
        op.execute("SELECT add_compression_policy('ad_snapshots', INTERVAL '1 day')")
        op.execute(
            "ALTER TABLE price_ticks SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'market', "
            "timescaledb.compress_orderby = 'time DESC')"
        )
        op.execute("SELECT add_compression_policy('price_ticks', INTERVAL '1 day')")
        # WITH NO DATA runs inside the migration's transaction (only WITH DATA refuses one),
        # so the whole upgrade stays atomic. Refreshing a day back heals a scheduler outage.
        op.execute("""
            CREATE MATERIALIZED VIEW price_candles_1m
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, market,
                   first(mid, time) AS open, max(mid) AS high, min(mid) AS low,
                   last(mid, time) AS close, count(*) AS ticks
            FROM price_ticks GROUP BY bucket, market WITH NO DATA
        """)
        op.execute(
            "SELECT add_continuous_aggregate_policy('price_candles_1m', "
            "start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 minute', "
            "schedule_interval => INTERVAL '1 minute')"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP MATERIALIZED VIEW IF EXISTS price_candles_1m")
    for table in (
        "users",
        "settings",
        "balances",
        "trade_events",
        "trade_legs",
        "trades",
        "opportunities",
        "latest_books",
        "ad_snapshots",
        "price_ticks",
        "markets",
    ):
        op.drop_table(table)
