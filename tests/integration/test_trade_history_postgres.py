"""The trade history on PostgreSQL: NUMERIC sums in SQL, routes by string_agg in leg
order, P&L buckets by epoch, and the export through a server-side cursor."""

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings

from backend import migrate
from backend.config import Settings
from backend.desk import Desk
from backend.trading import trade_buckets, trade_days, trade_hours, trades
from backend.trading import trade_history as th
from tests.factories import FIVE_TRADES, recorded_trade
from tests.unit import test_trade_days as rollup
from tests.unit import test_trade_history as history

D = Decimal


@pytest.fixture(scope="module", autouse=True)
def _a_server_time_zone_other_than_utc():
    """Connections here speak America/Caracas (UTC-4), not the test server's UTC: a day or
    an hour taken in the session's zone instead of UTC's would misfile trades."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGTZ", "America/Caracas")  # read by libpq as each connection opens
        yield


@pytest.fixture(scope="module")
def pg_desk(make_pg_database):
    settings = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(settings)
    desk = Desk(settings)
    with desk.sessions.begin() as session:
        ids = [recorded_trade(session, **spec).id for spec in FIVE_TRADES]
    return desk, ids


@pytest.fixture(scope="module")
def rollup_desk(make_pg_database):
    config = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(config)
    return Desk(config)


def test_totals_and_the_pnl_curve_are_exact_on_postgres(pg_desk):
    desk, _ = pg_desk
    with desk.sessions() as session:
        filled = th.totals(session, th.TradeFilter.parse({"status": "filled"}))
        curve = th.cumulative_pnl(session, th.TradeFilter())
    assert (filled.count, filled.size_usd, filled.profit_usd) == (3, D("1800"), D("2.95"))
    assert [total for _, total in curve] == [D("1.25"), D("3.35"), D("2.95")]


def test_filters_sorting_and_the_export_agree_with_sqlite(pg_desk):
    desk, ids = pg_desk
    flt = th.TradeFilter.parse({"market": "spot:BTC/USDT"})
    with desk.sessions() as session:
        assert [t.id for t in th.page(session, flt, th.Page())] == [ids[3]]
        by_profit = th.page(session, th.TradeFilter(), th.Page("profit_usd", False, 0, 5))
        assert [t.id for t in by_profit] == [ids[i] for i in (2, 4, 3, 0, 1)]
        text = b"".join(
            th.export_csv(session, th.TradeFilter(), th.Page(), list(th.EXPORT_COLUMNS), batch=2)
        ).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in rows[1:]] == [str(i) for i in reversed(ids)]
    triangle = next(r for r in rows if r[0] == str(ids[3]))
    assert triangle[2] == "'=cmd"
    assert triangle[6:10] == ["300", "1.1", "-0.4", "p2p:USDT/VES > p2p:BTC/VES > spot:BTC/USDT"]


def test_the_grids_flat_rows_page_with_their_routes(pg_desk):
    desk, ids = pg_desk
    with desk.sessions() as session:
        rows = th.page_rows(session, th.TradeFilter(), th.Page("profit_usd", False, 1, 2))
    assert [r.id for r in rows] == [ids[4], ids[3]]  # no profit first, then -0.40
    assert rows[1].route == "p2p:USDT/VES > p2p:BTC/VES > spot:BTC/USDT"


def test_the_daily_rollup_was_filled_from_the_trades_already_there(make_pg_database):
    """Migrations 0008, 0014 and 0015 add up the history that existed before them, in SQL."""
    config = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(config, "0006")
    desk = Desk(config)
    with desk.sessions.begin() as session:
        for spec in FIVE_TRADES:
            recorded_trade(session, **spec)
        session.flush()
        session.info.pop("trade_days.touched")  # (no rollup table to add them to yet)
    migrate.upgrade(config)
    with desk.sessions() as session:
        for args in (
            {},
            {"market": "p2p:USDT/BRL"},
            {"from": "2026-11-26T12:00Z"},
            {"from": "2026-11-25T09:20Z", "to": "2026-11-27T16:10Z"},  # hours, partial hours
        ):
            flt = th.TradeFilter.parse(args)
            assert th.totals(session, flt) == th.sums(session, flt), args
            assert th.cumulative_pnl(session, flt) == th._pnl_from_trades(session, flt), args
        assert th.totals(session, th.TradeFilter()).count == 5
        assert trade_days.drift(session) == []  # 0014's 5-minute buckets, 0015's hours too


def test_a_trade_refused_before_any_leg_counts_in_its_markets_on_postgres(make_pg_database):
    """The unit test's trades on PostgreSQL (arrays of leg markets, JSON paths into the
    planned cycle), then every rollup rebuilt in SQL (migration 0017) to the same sums."""
    config = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(config)
    desk = Desk(config)
    history.test_a_trade_refused_before_any_leg_counts_in_the_markets_it_was_requested_for(desk)
    with desk.sessions.begin() as session:  # what migration 0017 does
        connection = session.connection()
        for rebuild in (trade_days.rebuild, trade_buckets.rebuild, trade_hours.rebuild):
            rebuild(connection)
    with desk.sessions() as session:
        assert trade_days.drift(session) == []
        on_btc = th.totals(session, th.TradeFilter(market="spot:BTC/USDT"))
        assert on_btc.by_status == {"rejected": 1, "queued": 1}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rollup.transactions)
def test_the_rollup_adds_up_exactly_what_the_trades_hold_on_postgres(rollup_desk, batches):
    rollup.run(rollup_desk, batches)


def test_concurrent_changes_to_the_same_rollup_rows_lose_nothing(rollup_desk):
    """Eight threads create and move trades of the same user, day and strategy at once:
    every commit adds to the same rollup rows, none of its amounts is lost."""
    desk = rollup_desk
    start = rollup.START + timedelta(days=1, hours=3)

    def work(n: int) -> None:
        for k in range(6):
            with desk.sessions.begin() as session:
                trade = recorded_trade(session, at=start, user="zoe", status="executing",
                                       size=f"{n}.{k}1", profit=None)  # fmt: skip
            with desk.sessions.begin() as session:
                assert trades.transition(session, trade.id, ("executing",), "filled",
                                         start, actor="t", profit_usd=D(f"-{k}.{n}3"))  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    flt = th.TradeFilter.parse({"user": "zoe"})
    with desk.sessions() as session:
        found = th.totals(session, flt)
        assert found == th.sums(session, flt)
    assert found.by_status == {"filled": 48}
    assert found.size_usd == sum(D(f"{n}.{k}1") for n in range(8) for k in range(6))


@pytest.mark.parametrize("args", [{}, {"from": "2026-10-03T12:00Z", "to": "2026-10-25T06:00Z"}])
def test_a_long_pnl_curve_adds_up_days_on_postgres(make_pg_database, args):
    from tests.unit.test_trade_history import (
        test_a_long_pnl_curve_adds_up_days_from_the_rollup_and_the_partial_days as check,
    )

    config = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(config)
    check(Desk(config), args)


@pytest.mark.parametrize("sort", ["requested_by", "strategy", "status"])
@pytest.mark.parametrize("descending", [True, False])
def test_paging_by_a_group_forward_and_back_on_postgres(
    make_pg_database, monkeypatch, sort, descending
):
    """PostgreSQL's row comparisons on the (column, created_at, id) indexes of 0011."""
    settings = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(settings)
    desk = Desk(settings)
    history.same_instant_trades(desk)
    history.check_paging_forward_and_back(desk, monkeypatch, sort, descending)


@pytest.mark.parametrize("sort", ["created_at", "requested_by"])
def test_a_jump_skips_whole_hours_counting_trades_in_flight_on_postgres(
    make_pg_database, monkeypatch, sort
):
    settings = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(settings)
    desk = Desk(settings)
    history.in_flight_trades(desk)
    history.check_paging_forward_and_back(desk, monkeypatch, sort, True)


def test_in_flight_trades_are_counted_from_the_trades_on_postgres(make_pg_database):
    """The same checks as on SQLite: the request, its queued mark and its claim leave the
    rollup alone, and the deep-page skip adds in-flight trades in PostgreSQL's order."""
    for check in (
        rollup.test_a_request_its_queued_mark_and_its_claim_leave_the_rollup_alone,
        rollup.test_locate_adds_the_trades_in_flight_to_the_settled_ones,
    ):
        config = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
        migrate.upgrade(config)
        check(Desk(config))


@pytest.mark.parametrize(
    "check",
    [
        rollup.test_5_minute_buckets_are_half_open_kept_per_market_and_only_where_realized,
        rollup.test_a_short_curve_adds_up_5_minute_buckets_through_every_status_change,
        rollup.test_a_trade_settled_at_exactly_zero_profit_counts_as_realized,
    ],
    ids=["buckets", "curve", "zero profit"],
)
def test_the_rollups_edge_cases_hold_on_postgres(make_pg_database, check):
    """The same cases as on SQLite, summed in SQL: a bucket whose trade's profit was
    withdrawn (its row left at zero) is no realized bucket; a break-even trade is one."""
    config = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(config)
    check(Desk(config))
