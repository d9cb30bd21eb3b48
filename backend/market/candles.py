"""One-minute candles of the mid price for the charts.

TimescaleDB: read the continuous aggregate (real-time, so the open minute is included).
Plain PostgreSQL: the same buckets with ``date_bin``. SQLite: bucket the ticks in Python.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend.models import PriceTick


@dataclass(frozen=True)
class Candle:
    bucket: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


AGGREGATE = text("""
    SELECT bucket, open, high, low, close FROM price_candles_1m
    WHERE market = :market AND bucket >= :since ORDER BY bucket
""")
DATE_BIN = text("""
    SELECT date_bin(INTERVAL '1 minute', time, TIMESTAMPTZ '2000-01-01') AS bucket,
           (array_agg(mid ORDER BY time))[1] AS open, max(mid) AS high, min(mid) AS low,
           (array_agg(mid ORDER BY time DESC))[1] AS close
    FROM price_ticks WHERE market = :market AND time >= :since AND mid IS NOT NULL
    GROUP BY bucket ORDER BY bucket
""")


def _has_aggregate(session: Session) -> bool:
    return session.execute(text("SELECT to_regclass('price_candles_1m')")).scalar() is not None


def minute_candles(session: Session, market: str, since: datetime) -> list[Candle]:
    if session.get_bind().dialect.name == "postgresql":
        query = AGGREGATE if _has_aggregate(session) else DATE_BIN
        rows = session.execute(query, {"market": market, "since": since})
        return [Candle(*row) for row in rows]
    buckets: OrderedDict[datetime, list[Decimal]] = OrderedDict()
    ticks = session.execute(
        select(PriceTick.time, PriceTick.mid)
        .where(PriceTick.market == market, PriceTick.time >= since, PriceTick.mid.is_not(None))
        .order_by(PriceTick.time)
    )
    for time, mid in ticks:
        minute = time.replace(second=0, microsecond=0)
        buckets.setdefault(minute, []).append(mid)
    return [Candle(b, v[0], max(v), min(v), v[-1]) for b, v in buckets.items()]


def window(now: datetime, minutes: int = 60) -> datetime:
    return now - timedelta(minutes=minutes)
