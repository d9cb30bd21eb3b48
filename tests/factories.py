"""Small builders for books and ads, so a test states only the numbers it cares about."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from backend.market.book import Ad, Advertiser, Book, Market
from backend.trading import ledger
from backend.trading.execution import Leg, LegFill

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


BOOK_PRICES = {  # quote per unit of base, roughly what the desk saw in November 2026
    "USDT/VES": Decimal("325"),
    "USDT/BRL": Decimal("5.40"),
    "BTC/USDT": Decimal("95000"),
    "BTC/VES": Decimal("30875000"),
}
FEE_RATE = Decimal("0.001")  # of what a leg receives, taken from it
CENT, SATOSHI = Decimal("0.01"), Decimal("0.00000001")


def _units(currency: str) -> Decimal:
    return SATOSHI if currency == "BTC" else CENT


def cycle_legs(markets: tuple[str, ...], size: Decimal, profit: Decimal | None) -> list[dict]:
    """The legs of a route that sells ``size`` USDT and ends holding USDT again: each leg
    sells all that the previous one received, at the market's book price less a 0.1% fee;
    with a ``profit`` the last leg buys back exactly ``size + profit`` USDT (its price
    follows from that), so the legs' cash flows add up to the trade's profit."""
    legs, held, amount = [], "USDT", size
    for seq, key in enumerate(markets, start=1):
        pair = key.split(":", 1)[1]
        base, quote = pair.split("/")
        if held not in (base, quote):
            raise ValueError(f"{key} does not trade {held}: the route is not a cycle")
        side, bought = ("SELL", quote) if held == base else ("BUY", base)
        last = seq == len(markets)
        if last and bought != "USDT":
            raise ValueError("the route must end in USDT")
        price = BOOK_PRICES[pair]
        if last and profit is not None:
            received = size + profit
            fee = (received * FEE_RATE).quantize(CENT)
            gross = received + fee
            price = (gross / amount if side == "SELL" else amount / gross).quantize(Decimal("1e-4"))
        else:
            gross = (amount * price if side == "SELL" else amount / price).quantize(_units(bought))
            fee = (gross * FEE_RATE).quantize(_units(bought))
            received = gross - fee
        legs.append(
            dict(seq=seq, market=key, side=side, price=price, sell_currency=held,
                 sell_amount=amount, buy_currency=bought, buy_amount=received, fee=fee)
        )  # fmt: skip
        held, amount = bought, received
    return legs


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
    with_legs: bool = True,
):
    """A trade as the history holds it: an opportunity planning a cycle from USDT back to
    USDT through ``markets``, and (``with_legs``; a trade refused before any leg has
    none) one leg per market whose cash flows make its ``profit`` (``cycle_legs``)."""
    from datetime import timedelta

    from backend.models import Opportunity, Trade, TradeLeg

    legs = cycle_legs(markets, Decimal(size), None if profit is None else Decimal(profit))
    opp = Opportunity(
        fingerprint=f"fp-{at.isoformat()}-{user}",
        strategy=strategy,
        legs=[
            Leg(
                leg["market"], leg["side"], None, leg["sell_currency"], leg["buy_currency"]
            ).to_dict()
            for leg in legs
        ],
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
    fills = []
    # P2P legs pay by bank transfer: out through one bank, in through another
    for leg in legs if with_legs else ():
        method = None if leg["market"].startswith("spot:") else (
            "Mercantil" if leg["side"] == "SELL" else "Banesco"
        )  # fmt: skip
        session.add(TradeLeg(trade_id=trade.id, method=method, filled_at=at, **leg))
        side = Leg(leg["market"], leg["side"], method, leg["sell_currency"], leg["buy_currency"])
        fills.append(
            LegFill(side, leg["price"], leg["sell_amount"], leg["buy_amount"], leg["fee"], True)
        )
    if status == "filled" and fills:  # its double-entry postings, as the executor writes them
        ledger.post(session, "fill", ledger.fill_lines(fills), actor="worker", now=at,
                    trade_id=trade.id)  # fmt: skip
    return trade


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Five trades over four days (ids 1..5 in this order on a fresh database): two users, a
# formula-looking user name, three strategies, three statuses, a three-leg route (each
# a cycle from USDT back to USDT).
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
        markets=("p2p:USDT/VES", "p2p:BTC/VES", "spot:BTC/USDT"),
    ),
    dict(at=_at("2026-11-28 12:00"), user="ben", status="failed", size="100", profit=None),
]
