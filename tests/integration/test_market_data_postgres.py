"""Ingest on PostgreSQL: COPY of changed ads only, exact decimals, date_bin candles."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from backend.market import ingest
from backend.market.candles import minute_candles
from backend.models import AdSnapshot
from tests import candle_check
from tests.factories import NOW, ad, book

MARKET = "p2p:USDT/PEN"


def store(desk, b, at):
    with desk.sessions.begin() as session:
        return ingest.store(session, desk.cache, desk.settings, b, at)


def test_only_new_or_changed_ads_are_copied_and_keep_every_digit(service_app):
    desk = service_app.extensions["desk"]
    asks = [ad("3.4512", "1500.123456789", ad_no="A1"), ad("3.46", 800, ad_no="A2")]
    bids = [ad("3.40", 700, ad_no="B1")]
    assert store(desk, book(MARKET, asks, bids, fetched_at=NOW), NOW) == 3
    later = NOW + timedelta(seconds=2)
    assert store(desk, book(MARKET, asks, bids, fetched_at=later), later) == 0
    repriced = [ad("3.4499", "1500.123456789", ad_no="A1"), asks[1]]
    latest = NOW + timedelta(seconds=4)
    assert store(desk, book(MARKET, repriced, bids, fetched_at=latest), latest) == 1
    with desk.sessions() as session:
        rows = session.scalars(
            select(AdSnapshot).where(AdSnapshot.ad_no == "A1").order_by(AdSnapshot.time)
        ).all()
        assert [r.price for r in rows] == [Decimal("3.4512"), Decimal("3.4499")]
        assert rows[0].quantity == Decimal("1500.123456789")
        assert rows[1].time == latest
        assert (
            session.scalar(
                select(func.count()).select_from(AdSnapshot).where(AdSnapshot.market == MARKET)
            )
            == 4
        )


def test_candles_bucket_by_minute_with_or_without_timescaledb(service_app):
    desk = service_app.extensions["desk"]
    market = "p2p:USDT/CLP"
    for seconds, mid in [(0, 940), (30, 950), (65, 945)]:
        at = NOW + timedelta(seconds=seconds)
        store(desk, book(market, [ad(mid + 1, 900)], [ad(mid - 1, 900)], fetched_at=at), at)
    with desk.sessions() as session:
        candles = minute_candles(session, market, NOW - timedelta(minutes=5))
    assert [(c.open, c.high, c.close) for c in candles] == [
        (Decimal(940), Decimal(950), Decimal(950)),
        (Decimal(945), Decimal(945), Decimal(945)),
    ]


def test_kept_candles_equal_the_ones_folded_from_raw_ticks_on_postgresql(service_app):
    candle_check.check(service_app.extensions["desk"], "p2p:USDT/MXN")


def test_coarse_candles_are_folded_in_sql_with_exact_ohlc(service_app):
    candle_check.check_coarse(service_app.extensions["desk"], "p2p:USDT/COP")
