"""Binance bans by IP and API key, not by process: a long ``Retry-After`` one worker was
given keeps every worker of the house quiet, through Redis."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import pytest

from backend.cache import RedisCache
from backend.trading.venues import LegOrder
from backend.trading.venues.live_spot import (
    BinanceSpotTrader,
    LiveSpotVenue,
    SpotUnavailable,
    forget_throttling,
)
from tests.unit.test_live_spot import BUY_BTC, settings_for, stub  # noqa: F401 (fixture)


@pytest.mark.parametrize("kind", ["429", "418"])
def test_a_ban_one_worker_was_given_stops_the_other_workers_calls(stub, redis_url, kind):  # noqa: F811
    settings = settings_for(stub, redis_url=redis_url, redis_prefix=f"t{uuid.uuid4().hex[:8]}:")
    stub.fail_next(kind, seconds=30)
    with pytest.raises(SpotUnavailable, match="retry after 30 s"):
        BinanceSpotTrader(settings, cache=RedisCache.from_settings(settings)).market_order(
            "desk-31-1", "BTCUSDT", "BUY", quote_qty=D("60")
        )
    sent = len(stub.requests)
    forget_throttling()  # another process: nothing in its memory
    other = LiveSpotVenue(settings, cache=RedisCache.from_settings(settings))
    with pytest.raises(SpotUnavailable, match=r"no calls for (29|30) s more"):
        other.fill(LegOrder(31, 1, BUY_BTC, D("60"), resent=True))
    assert len(stub.requests) == sent and not stub.placements
    # without the shared window that process would have called Binance inside the ban
    alone = LiveSpotVenue(settings)
    alone.fill(LegOrder(31, 1, BUY_BTC, D("60"), resent=True))
    assert len(stub.requests) > sent


def test_a_shorter_window_never_cuts_a_longer_one_short(stub, redis_url):  # noqa: F811
    settings = settings_for(stub, redis_url=redis_url, redis_prefix=f"t{uuid.uuid4().hex[:8]}:")
    cache = RedisCache.from_settings(settings)
    stub.fail_next("418", seconds=120)
    with pytest.raises(SpotUnavailable):
        BinanceSpotTrader(settings, cache=cache).market_order(
            "desk-32-1", "BTCUSDT", "BUY", quote_qty=D("60")
        )
    forget_throttling()
    trader = BinanceSpotTrader(settings, cache=cache)
    trader._keep_quiet(settings.binance_trade_url, 5.0)  # a later, shorter 429 elsewhere
    forget_throttling()
    assert trader._quiet_for(settings.binance_trade_url) > 100
