"""The 1-minute candles ingest keeps must equal the ones folded from the raw ticks, on
every backend: ticks stored out of order, an empty book between them, then rebuilt."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete, select

from backend.market import candles, ingest
from backend.models import PriceCandle, PriceTick
from tests.factories import NOW, ad, book


def from_ticks(session, market: str) -> list[candles.Candle]:
    """Reference: every stored tick with a mid, bucketed by minute here, in Python."""
    minutes: dict = {}
    for at, mid in session.execute(
        select(PriceTick.time, PriceTick.mid)
        .where(PriceTick.market == market, PriceTick.mid.is_not(None))
        .order_by(PriceTick.time)
    ):
        minutes.setdefault(at.replace(second=0, microsecond=0), []).append(mid)
    return [candles.Candle(b, m[0], max(m), min(m), m[-1]) for b, m in sorted(minutes.items())]


def check(desk, market: str) -> None:
    rng = random.Random(5)
    polls = [NOW + timedelta(seconds=7 * k + rng.random()) for k in range(40)]
    rng.shuffle(polls)  # late polls: a minute's open may arrive after its close
    for n, at in enumerate(polls):
        mid = rng.randint(9_000, 11_000)
        asks, bids = ([], []) if n == 7 else ([ad(f"{mid + 1}.125", 900)], [ad(mid - 1, 900)])
        with desk.sessions.begin() as session:
            ingest.store(session, desk.cache, desk.settings, book(market, asks, bids, at), at)
    with desk.sessions() as session:
        kept = candles.minute_candles(session, market, NOW - timedelta(minutes=1))
        want = from_ticks(session, market)
    assert len(want) == 5 and kept == want
    with desk.sessions.begin() as session:
        session.execute(delete(PriceCandle))
        candles.rebuild(session.connection())
    with desk.sessions() as session:
        assert candles.minute_candles(session, market, NOW - timedelta(minutes=1)) == want
        assert candles.minute_candles(session, market, NOW + timedelta(seconds=1))[0] == want[1]


MIDNIGHT = NOW + timedelta(hours=12)  # 2026-11-28 00:00 UTC
# (seconds from midnight, mid): one to two ticks a minute across midnight; by hand the
# minutes are 23:53 10/12/10/12, 23:54 9.5, 23:55 14/14/7.12345678/7.12345678, 23:57 11,
# 23:59 10.5, 00:00 10.25/13/10.25/13, 00:04 12.99, 00:05 13.5 (open/high/low/close).
COARSE_TICKS = [
    (-410, "10"),
    (-380, "12"),
    (-355, "9.5"),
    (-300, "14"),
    (-270, "7.12345678"),
    (-121, "11"),
    (-0.5, "10.5"),
    (0, "10.25"),
    (20, "13"),
    (299, "12.99"),
    (300, "13.5"),
]


def check_coarse(desk, market: str) -> None:
    """Coarse candles folded from the minutes: exact OHLC, whole buckets on the UTC grid."""
    rng = random.Random(3)
    for seconds, mid in rng.sample(COARSE_TICKS, len(COARSE_TICKS)):  # stored out of order
        at, m = MIDNIGHT + timedelta(seconds=seconds), Decimal(mid)
        asks, bids = [ad(m + 1, 900)], [ad(m - 1, 900)]
        with desk.sessions.begin() as session:
            ingest.store(session, desk.cache, desk.settings, book(market, asks, bids, at), at)

    def read(since_minutes: float, step: int) -> list[tuple]:
        with desk.sessions() as session:
            got = candles.candles(
                session,
                market,
                MIDNIGHT + timedelta(minutes=since_minutes),
                timedelta(minutes=step),
            )
        return [
            (
                c.bucket.strftime("%H:%M"),
                *(format(v.normalize(), "f") for v in (c.open, c.high, c.low, c.close)),
            )
            for c in got
        ]

    five = [
        ("23:55", "14", "14", "7.12345678", "10.5"),
        ("00:00", "10.25", "13", "10.25", "12.99"),
        ("00:05", "13.5", "13.5", "13.5", "13.5"),
    ]
    # 23:52:30 rounds up to 23:55: the 23:50 candle would lack 23:50-23:52, so it is left out
    assert read(-7.5, 5) == five
    assert read(-10, 5) == [("23:50", "10", "12", "9.5", "9.5"), *five]
    assert read(-7, 2) == [
        ("23:54", "9.5", "14", "7.12345678", "7.12345678"),
        ("23:56", "11", "11", "11", "11"),
        ("23:58", "10.5", "10.5", "10.5", "10.5"),
        ("00:00", "10.25", "13", "10.25", "13"),
        ("00:04", "12.99", "13.5", "12.99", "13.5"),
    ]
    assert read(-60, 60) == [
        ("23:00", "10", "14", "7.12345678", "10.5"),
        ("00:00", "10.25", "13.5", "10.25", "13.5"),
    ]
    assert read(0, 1) == [
        ("00:00", "10.25", "13", "10.25", "13"),
        ("00:04", "12.99", "12.99", "12.99", "12.99"),
        ("00:05", "13.5", "13.5", "13.5", "13.5"),
    ]
