"""The 1-minute candles ingest keeps must equal the ones folded from the raw ticks, on
every backend: ticks stored out of order, an empty book between them, then rebuilt."""

from __future__ import annotations

import random
from datetime import timedelta

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
