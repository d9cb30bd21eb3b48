"""Small builders for books and ads, so a test states only the numbers it cares about."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from backend.market.book import Ad, Advertiser, Book, Market

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def ad(price, qty, min_amount="0", max_amount=None, methods=("Banesco",), ad_no=None) -> Ad:
    return Ad(
        ad_no=ad_no or f"ad-{price}-{qty}-{'-'.join(methods)}",
        price=Decimal(str(price)),
        quantity=Decimal(str(qty)),
        min_amount=Decimal(str(min_amount)),
        max_amount=None if max_amount is None else Decimal(str(max_amount)),
        methods=tuple(methods),
        advertiser=Advertiser(nick="tester", user_type="merchant", month_orders=100),
    )


def book(key: str, asks=(), bids=(), fetched_at=NOW, source="test") -> Book:
    return Book(Market.parse(key), tuple(asks), tuple(bids), fetched_at, source).sorted()


def recorded_trade(
    session,
    *,
    at: datetime,
    user: str = "ana",
    status: str = "filled",
    strategy: str = "crossed_book",
    size: str = "500",
    profit: str | None = "1.00",
    markets: tuple[str, ...] = ("p2p:USDT/VES", "p2p:USDT/VES"),
):
    """A trade as the history holds it (with an opportunity and one leg per market)."""
    from datetime import timedelta

    from backend.models import Opportunity, Trade, TradeLeg

    opp = Opportunity(
        fingerprint=f"fp-{at.isoformat()}-{user}",
        strategy=strategy,
        legs=[],
        size_usd=Decimal(size),
        profit_usd=Decimal("1"),
        profit_bps=Decimal("20"),
        status="expired",
        first_seen=at,
        last_seen=at,
        expires_at=at + timedelta(seconds=30),
    )
    session.add(opp)
    session.flush()
    trade = Trade(
        idempotency_key=f"k-{opp.id}",
        opportunity_id=opp.id,
        requested_by=user,
        strategy=strategy,
        mode="paper",
        status=status,
        size_usd=Decimal(size),
        expected_profit_usd=Decimal("1.10"),
        profit_usd=None if profit is None else Decimal(profit),
        created_at=at,
        updated_at=at,
    )
    session.add(trade)
    session.flush()
    for seq, market in enumerate(markets):  # buy USDT with VES, then sell it back
        buy = seq % 2 == 0
        session.add(
            TradeLeg(
                trade_id=trade.id,
                seq=seq,
                market=market,
                side="BUY" if buy else "SELL",
                method="Banesco" if buy else "Mercantil",
                price=Decimal("320") if buy else Decimal("325"),
                sell_currency="VES" if buy else "USDT",
                sell_amount=Decimal("160000") if buy else Decimal("499.5"),
                buy_currency="USDT" if buy else "VES",
                buy_amount=Decimal("499.5") if buy else Decimal("162256.88"),
                fee=Decimal("0.25") if buy else Decimal("81.17"),
                filled_at=at,
            )
        )
    return trade


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Five trades over four days (ids 1..5 in this order on a fresh database): two users, a
# formula-looking user name, three strategies, three statuses, a three-leg route.
FIVE_TRADES = [
    dict(at=_at("2026-11-25 10:00"), user="ana", profit="1.25"),
    dict(
        at=_at("2026-11-26 09:00"),
        user="ben",
        strategy="spot_p2p",
        size="1000",
        profit="2.10",
        markets=("p2p:USDT/BRL", "spot:USDT/BRL"),
    ),
    dict(at=_at("2026-11-26 23:59"), user="ana", status="rejected", size="200", profit=None),
    dict(
        at=_at("2026-11-27 00:00"),
        user="=cmd",
        strategy="triangle",
        size="300",
        profit="-0.40",
        markets=("p2p:USDT/VES", "spot:BTC/USDT", "p2p:BTC/VES"),
    ),
    dict(at=_at("2026-11-28 12:00"), user="ben", status="failed", size="100", profit=None),
]
