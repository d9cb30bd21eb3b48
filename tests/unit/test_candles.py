from datetime import timedelta
from decimal import Decimal

import pytest

from backend.market import candles, ingest
from backend.market.candles import minute_candles
from tests import candle_check
from tests.factories import NOW, ad, book


def test_ticks_become_one_minute_candles_of_the_mid(desk):
    mids = [(0, 100), (20, 104), (40, 98), (61, 101)]
    with desk.sessions.begin() as session:
        for seconds, mid in mids:
            at = NOW + timedelta(seconds=seconds)
            ingest.store(
                session,
                desk.cache,
                desk.settings,
                book(
                    "p2p:USDT/VES", asks=[ad(mid + 1, 900)], bids=[ad(mid - 1, 900)], fetched_at=at
                ),
                at,
            )
    with desk.sessions() as session:
        first, second = minute_candles(session, "p2p:USDT/VES", NOW - timedelta(minutes=1))
    assert (first.open, first.high, first.low, first.close) == tuple(
        Decimal(x) for x in (100, 104, 98, 98)
    )
    assert second.bucket == NOW + timedelta(minutes=1) and second.close == Decimal(101)


def test_kept_candles_equal_the_ones_folded_from_raw_ticks_on_sqlite(desk):
    candle_check.check(desk, "p2p:USDT/MXN")


def test_coarse_candles_fold_the_minutes_exactly_on_sqlite(desk):
    candle_check.check_coarse(desk, "p2p:USDT/VES")


@pytest.mark.parametrize("minutes, step", [(15, 1), (60, 1), (360, 2), (1440, 5), (7 * 1440, 60)])
def test_a_chart_uses_the_finest_candle_that_keeps_it_under_the_cap(minutes, step):
    span = timedelta(minutes=minutes)
    assert candles.step_for(span) == timedelta(minutes=step)
    if minutes <= 1440:  # every range the market page offers
        assert span / candles.step_for(span) <= candles.MAX_CANDLES
