"""The daily rollup (trade_days), the hourly one (trade_hours) and the 5-minute one
(trade_buckets) stay equal to the trades they add up, whatever happens to them: trades
created, moved through statuses (Core UPDATE), changed through the ORM, given legs on new
markets, and transactions rolled back (hypothesis, on SQLite;
PostgreSQL: tests/integration/test_trade_history_postgres.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from backend.models import Trade, TradeBucket, TradeDay, TradeHour, TradeLeg
from backend.trading import trade_buckets, trade_days, trade_history, trade_hours, trades
from tests.factories import recorded_trade

D = Decimal

START = datetime(2026, 11, 25, tzinfo=UTC)
USERS = ("ana", "ben")
MARKETS = ("p2p:USDT/VES", "spot:BTC/USDT", "p2p:USDT/BRL")
ROUTES = [  # cycles from USDT back to USDT through MARKETS (a market twice, or none)
    (),
    ("p2p:USDT/VES", "p2p:USDT/VES"),
    ("p2p:USDT/BRL", "p2p:USDT/BRL"),
    ("p2p:USDT/VES", "p2p:BTC/VES", "spot:BTC/USDT"),
]
money = st.decimals(min_value="-50", max_value="5000", places=6).map(str)
# As the desk moves trades, a profit is set exactly when a trade ends in one of these (a
# cancelled ticket's is its legs' flows, 0 when it did nothing); the totals rely on it:
# a status's trades all have a realized profit or none has (trade_history._added).
WITH_PROFIT = frozenset(("filled", "cancelled", "unwound", "closed"))
moments = st.integers(min_value=0, max_value=4 * 86400 - 1).map(
    lambda s: START + timedelta(seconds=s)
)
create = st.fixed_dictionaries(
    {
        "at": moments,
        "user": st.sampled_from(USERS),
        "status": st.sampled_from(trades.STATUSES),
        "strategy": st.sampled_from(("crossed_book", "triangle")),
        "size": st.decimals(min_value="0.01", max_value="100000", places=2).map(str),
        "profit": money,
        "markets": st.sampled_from(ROUTES),
    }
).map(lambda spec: ("create", spec | {"profit": profit_for(spec["status"], spec["profit"])}))
move = st.tuples(st.just("move"), st.integers(0, 50), st.sampled_from(trades.STATUSES), money)
edit = st.tuples(st.just("edit"), st.integers(0, 50), money, st.sampled_from(USERS))
leg = st.tuples(st.just("leg"), st.integers(0, 50), st.sampled_from(MARKETS))
transactions = st.lists(
    st.tuples(st.lists(create | move | edit | leg, min_size=1, max_size=6), st.booleans()),
    min_size=1,
    max_size=5,
)
FILTERS = [
    {},
    {"user": "ana"},
    {"status": "filled"},
    {"status": "cancelled", "user": "ben"},
    {"strategy": "triangle"},
    {"market": "spot:BTC/USDT"},
    {"market": "p2p:USDT/VES", "status": "executing"},
    {"from": "2026-11-26", "to": "2026-11-27"},
    {"from": "2026-11-25T13:30Z", "to": "2026-11-28T02:00Z"},  # partial days at both ends
    {"from": "2026-11-26T01:00Z", "to": "2026-11-26T20:00Z", "market": "p2p:USDT/BRL"},
    {"from": "2026-11-25T07:20Z", "to": "2026-11-27T18:40:30Z"},  # partial hours as well
    {"from": "2026-11-26T07:20Z", "to": "2026-11-26T07:50Z", "user": "ana"},  # within an hour
    {"from": "2026-11-27T05:00Z"},
]


def profit_for(status: str, profit: str) -> str | None:
    return profit if status in WITH_PROFIT else None


def apply(session, op, ids: list[int], now: datetime) -> None:
    kind, *args = op
    if kind == "create":
        ids.append(recorded_trade(session, **args[0]).id)
        return
    if not ids:
        return
    trade_id = ids[args[0] % len(ids)]
    if kind == "move":
        to, profit = args[1], profit_for(args[1], args[2])
        current = session.scalar(select(Trade.status).where(Trade.id == trade_id))
        value = None if profit is None else Decimal(profit)
        assert trades.transition(session, trade_id, (current,), to, now, actor="t",
                                 profit_usd=value)  # fmt: skip
    elif kind == "edit":  # through the ORM: a changed (loaded) object, flushed
        trade = session.get(Trade, trade_id)
        profit = profit_for(trade.status, args[1])
        trade.profit_usd = None if profit is None else Decimal(profit)
        trade.requested_by = args[2]
    else:
        seq = 1 + (session.scalar(select(TradeLeg.seq).where(TradeLeg.trade_id == trade_id)
                                  .order_by(TradeLeg.seq.desc()).limit(1)) or 0)  # fmt: skip
        session.add(
            TradeLeg(trade_id=trade_id, seq=seq, market=args[1], side="BUY", method=None,
                     price=Decimal(1), sell_currency="USD", sell_amount=Decimal(1),
                     buy_currency="USDT", buy_amount=Decimal(1), fee=Decimal(0), filled_at=now)
        )  # fmt: skip


def rollup_rows(session) -> set[tuple]:
    rows = session.execute(select(TradeDay)).scalars()
    return {
        (
            r.day,
            r.market,
            r.strategy,
            r.status,
            r.requested_by,
            r.trades,
            r.realized,
            r.size_usd,
            r.expected_profit_usd,
            r.profit_usd,
        )
        for r in rows
        if r.trades
    }


def hour_rows(session) -> set[tuple]:
    fields = ("market", "hour", "strategy", "status", "requested_by", *trade_days.FIELDS)
    rows = session.execute(select(TradeHour)).scalars()
    return {tuple(getattr(r, f) for f in fields) for r in rows if r.trades}


def bucket_rows(session) -> set[tuple]:
    rows = session.execute(select(TradeBucket)).scalars()
    return {
        (r.market, r.bucket, r.strategy, r.status, r.requested_by, r.realized, r.profit_usd)
        for r in rows
        if r.realized
    }


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(transactions)
def test_the_rollup_adds_up_exactly_what_the_trades_hold(desk, batches):
    run(desk, batches)


def run(desk, batches) -> None:
    """Apply the transactions (committed or rolled back), then compare the rollups'
    totals and P&L curves with sums over the trades, and their rows with a rebuild from
    scratch."""
    ids: list[int] = []
    now = START + timedelta(days=5)
    for ops, commit in batches:
        session = desk.sessions()
        try:
            for op in ops:
                apply(session, op, ids, now)
            session.commit() if commit else session.rollback()
        finally:
            session.close()
        if not commit:  # trades created in a rolled back transaction never existed
            with desk.sessions() as session:
                kept = set(session.scalars(select(Trade.id)))
            ids[:] = [i for i in ids if i in kept]
    with desk.sessions() as session:
        for args in FILTERS:
            flt = trade_history.TradeFilter.parse(args)
            assert trade_history.totals(session, flt) == trade_history.sums(session, flt), args
            curve = trade_history._pnl_from_trades(session, flt)  # bucketed from the trades
            assert trade_history.cumulative_pnl(session, flt) == curve, args
        assert trade_days.drift(session) == []
        kept, buckets, hours = rollup_rows(session), bucket_rows(session), hour_rows(session)
    with desk.sessions.begin() as session:  # added up again from scratch: the same rows
        trade_days.rebuild(session.connection())
        trade_buckets.rebuild(session.connection())
        trade_hours.rebuild(session.connection())
    with desk.sessions() as session:
        assert rollup_rows(session) == kept
        assert bucket_rows(session) == buckets
        assert hour_rows(session) == hours


def test_the_statuses_split_exactly_into_settled_and_in_flight():
    assert set(trades.STATUSES) == trade_days.SETTLED | trade_days.IN_FLIGHT
    assert not trade_days.SETTLED & trade_days.IN_FLIGHT


def test_a_request_its_queued_mark_and_its_claim_leave_the_rollup_alone(desk):
    """Only a settled trade is rolled up; until then the totals count it from the trades."""
    at = START + timedelta(hours=3)
    with desk.sessions.begin() as session:
        done = recorded_trade(session, at=at, status="filled", size="300", profit="2.50").id
        trade_id = recorded_trade(session, at=at, status="requested", size="700", profit=None).id
    with desk.sessions() as session:
        settled = rollup_rows(session)
    assert {(r[3], r[5], r[7]) for r in settled if r[1] == trade_days.ALL} == {
        ("filled", 1, Decimal("300"))
    }
    now = START + timedelta(days=1)
    for move, status in (
        (lambda s: trades.transition(s, trade_id, ("requested",), "queued", now, actor="o"),
         "queued"),
        (lambda s: trades.claim(s, trade_id, "w1", now, 30), "executing"),
    ):  # fmt: skip
        with desk.sessions.begin() as session:
            assert move(session)
            assert session.info.get("trade_days.touched", {}) == {}  # nothing read or added
        with desk.sessions() as session:
            assert rollup_rows(session) == settled
            day = trade_history.TradeFilter.parse({"from": "2026-11-25", "to": "2026-11-25"})
            totals = trade_history.totals(session, day)
            assert (totals.count, totals.size_usd, totals.profit_usd) == (
                2, Decimal("1000"), Decimal("2.50")
            )  # fmt: skip
            assert totals.by_status == {"filled": 1, status: 1}
    with desk.sessions.begin() as session:
        assert trades.transition(
            session, trade_id, ("executing",), "filled", now, actor="worker", owner="w1",
            profit_usd=Decimal("-1.25"),
        )  # fmt: skip
    with desk.sessions() as session:
        assert trade_days.drift(session) == []
        filled = trade_days.by_status(session, trade_history.TradeFilter(), None, None)
        count, realized, size, _, profit = filled.pop("filled")
        assert (count, realized, size, profit, filled) == (
            2,
            2,
            Decimal("1000"),
            Decimal("1.25"),
            {},
        )
        assert done != trade_id


def day_of_row(session, flt, first, until, by, descending, offset):
    """(value of ``by``, day, trades before it) of a jump's row, without its hour."""
    found = trade_hours.locate(session, flt, first, until, by, descending, offset)
    return None if found is None else found[:-2]


def test_locate_adds_the_trades_in_flight_to_the_settled_ones(desk):
    """The deep-page skip finds the group and day of a row from the rollup and, for
    trades in flight, from the trades: where the trades' own order puts it."""
    specs = [
        (0, "ana", "filled", "crossed_book"),
        (0, "ben", "executing", "triangle"),
        (1, "ana", "requested", "crossed_book"),
        (1, "ben", "stranded", "crossed_book"),
        (2, "cy", "rejected", "triangle"),
        (2, "ana", "queued", "triangle"),
        (2, "ana", "awaiting_operator", "triangle"),
    ]
    with desk.sessions.begin() as session:
        for day, user, status, strategy in specs:
            at = START + timedelta(days=day, hours=5)
            recorded_trade(session, at=at, user=user, status=status, strategy=strategy)
    flt = trade_history.TradeFilter()
    with desk.sessions() as session:
        for by, index in ((None, 0), ("requested_by", 1), ("status", 2), ("strategy", 3)):
            keys = [
                (*((spec[index],) if by else ()), (START + timedelta(days=spec[0])).date())
                for spec in specs
            ]
            for descending in (False, True):
                order = sorted(keys, reverse=descending)
                for offset, key in enumerate(order):
                    found = day_of_row(session, flt, None, None, by, descending, offset)
                    assert found == (*key, order.index(key)), (by, descending, offset)
                assert day_of_row(session, flt, None, None, by, descending, 7) is None
        ana_in_flight = trade_history.TradeFilter(user="ana", status="queued")
        found = day_of_row(session, ana_in_flight, START.date(), None, None, False, 0)
        assert found == ((START + timedelta(days=2)).date(), 0)


def test_a_short_curve_adds_up_5_minute_buckets_through_every_status_change(desk):
    """One day's curve in 5-minute buckets, exact after a filled trade is unwound and a
    stranded one closed with a new profit (in flight, a trade's profit counts live)."""
    day = trade_history.TradeFilter.parse({"from": "2026-11-25", "to": "2026-11-25"})
    ben = trade_history.TradeFilter.parse({"from": "2026-11-25", "to": "2026-11-25",
                                           "user": "ben"})  # fmt: skip
    with desk.sessions.begin() as session:
        first = recorded_trade(session, at=START + timedelta(minutes=2, seconds=10),
                               profit="1.50").id  # fmt: skip
        recorded_trade(session, at=START + timedelta(minutes=4, seconds=59), profit="2.25")
        kept = recorded_trade(session, at=START + timedelta(hours=9, minutes=31), user="ben",
                              status="stranded", profit="4.00").id  # fmt: skip
        recorded_trade(session, at=START + timedelta(hours=23, minutes=58), profit="-0.75")
        recorded_trade(session, at=START + timedelta(hours=12), status="rejected", profit=None)
    five, nine, end = (START + timedelta(minutes=m) for m in (5, 9 * 60 + 35, 24 * 60))

    def curve(flt):
        with desk.sessions() as session:
            assert trade_days.drift(session) == []
            return trade_history.cumulative_pnl(session, flt)

    assert curve(day) == [(five, D("3.75")), (nine, D("7.75")), (end, D("7.00"))]
    with desk.sessions() as session:  # the stranded trade is in flight: not in the rollup
        assert {r[1:] for r in bucket_rows(session) if r[0] == trade_days.ALL} == {
            (bucket(START), "crossed_book", "filled", "ana", 2, D("3.75")),
            (bucket(START + timedelta(hours=23, minutes=55)), "crossed_book", "filled", "ana",
             1, D("-0.75")),
        }  # fmt: skip
    now = START + timedelta(days=2)
    for trade_id, path in ((first, ("filled", "unwinding", "unwound")),
                           (kept, ("stranded", "closed"))):  # fmt: skip
        for current, to in pairwise(path):
            with desk.sessions.begin() as session:
                profit = {"unwinding": D("9"), "unwound": D("-0.50"), "closed": D("0.75")}[to]
                assert trades.transition(session, trade_id, (current,), to, now, actor="t",
                                         profit_usd=profit)  # fmt: skip
            if to == "unwinding":  # in flight again, with a profit: counted live
                assert curve(day) == [(five, D("11.25")), (nine, D("15.25")), (end, D("14.50"))]
    assert curve(day) == [(five, D("1.75")), (nine, D("2.50")), (end, D("1.75"))]
    assert curve(ben) == [(START + timedelta(hours=9, minutes=32), D("0.75"))]  # 1 minute
    with desk.sessions() as session:
        days = rollup_rows(session)
        ben_days = [(r[3], r[5], r[6], r[9]) for r in days if r[1] == "*" and r[4] == "ben"]
        assert ben_days == [("closed", 1, 1, D("0.75"))]
        assert (trade_days.ALL, bucket(START + timedelta(hours=9, minutes=30)),
                "crossed_book", "closed", "ben", 1, D("0.75")) in bucket_rows(session)  # fmt: skip


def bucket(at: datetime) -> int:
    return int(at.timestamp()) // 300


def test_a_trade_settled_at_exactly_zero_profit_counts_as_realized(desk):
    """Realized means its profit is known, not that it is non-zero: a break-even unwind
    is realized, a rejection (no profit at all) is not."""
    at = START + timedelta(hours=2)
    with desk.sessions.begin() as session:
        recorded_trade(session, at=at, status="unwound", size="500", profit="0")
        recorded_trade(session, at=at + timedelta(seconds=1), status="rejected", profit=None)
    with desk.sessions() as session:
        totals = trade_days.by_status(session, trade_history.TradeFilter(), None, None)
        assert totals["unwound"][:2] == [1, 1] and totals["rejected"][:2] == [1, 0]
        assert trade_days.by_day(session, trade_history.TradeFilter(), None, None) == {
            at.date(): [2, 1, Decimal("0")]
        }


def test_a_trade_in_flight_at_the_first_instant_of_the_next_day_is_not_in_this_one(desk):
    midnight = START + timedelta(days=1)
    with desk.sessions.begin() as session:
        recorded_trade(session, at=midnight, status="queued", profit=None)
        recorded_trade(session, at=midnight - timedelta(microseconds=1), status="executing",
                       profit=None)  # fmt: skip
    with desk.sessions() as session:
        day = trade_days.by_status(
            session, trade_history.TradeFilter(), START.date(), midnight.date()
        )
        assert {status: total[0] for status, total in day.items()} == {"executing": 1}
        everything = trade_history.TradeFilter()
        first, until = START.date(), midnight.date()
        assert day_of_row(session, everything, first, until, "status", False, 0) == (
            "executing", START.date(), 0
        )  # fmt: skip
        assert day_of_row(session, everything, first, until, "status", False, 1) is None
        daily = trade_days.by_day(session, trade_history.TradeFilter(), START.date(), None)
        assert daily == {  # in flight: counted, not realized
            START.date(): [1, 0, Decimal(0)],
            midnight.date(): [1, 0, Decimal(0)],
        }


def test_drift_names_a_rollup_row_that_went_missing(desk):
    with desk.sessions.begin() as session:
        recorded_trade(session, at=START, status="filled", size="300", profit="2")
    with desk.sessions.begin() as session:  # behind the application's back
        session.execute(delete(TradeDay).where(TradeDay.market == trade_days.ALL))
    with desk.sessions() as session:
        problems = trade_days.drift(session)
    assert len(problems) == 1, problems
    assert "market=*" in problems[0] and "holds None" in problems[0]


def test_5_minute_buckets_are_half_open_kept_per_market_and_only_where_realized(desk):
    at = START + timedelta(hours=1, minutes=2)
    b = trade_buckets.bucket_of(at)
    route = ("p2p:USDT/VES", "p2p:BTC/VES", "spot:BTC/USDT")
    with desk.sessions.begin() as session:
        recorded_trade(session, at=at, status="filled", profit="2.00", markets=route)
        recorded_trade(session, at=trade_buckets.start_of(b + 1), status="filled", profit="5")
        gone = recorded_trade(session, at=at, user="ben", status="filled", profit="7").id
    with desk.sessions.begin() as session:  # its profit withdrawn: no longer realized
        session.get(Trade, gone).profit_usd = None
    everything = trade_history.TradeFilter()
    spot = trade_history.TradeFilter.parse({"market": "spot:BTC/USDT"})
    with desk.sessions() as session:
        assert trade_buckets.by_bucket(session, everything, b, b + 1) == {b: [1, D("2.00")]}
        assert trade_buckets.by_bucket(session, spot, b, b + 2) == {b: [1, D("2.00")]}
        ben = trade_history.TradeFilter.parse({"user": "ben"})
        assert trade_buckets.by_bucket(session, ben, b, b + 2) == {}
