"""The trade history on PostgreSQL: NUMERIC sums in SQL, routes by string_agg in leg
order, P&L buckets by epoch, and the export through a server-side cursor."""

import csv
import io
from decimal import Decimal

import pytest

from backend import migrate
from backend.config import Settings
from backend.desk import Desk
from backend.trading import trade_history as th
from tests.factories import FIVE_TRADES, recorded_trade

D = Decimal


@pytest.fixture(scope="module")
def pg_desk(make_pg_database):
    settings = Settings(_env_file=None, database_url=make_pg_database(), secret_key="x" * 16)
    migrate.upgrade(settings)
    desk = Desk(settings)
    with desk.sessions.begin() as session:
        ids = [recorded_trade(session, **spec).id for spec in FIVE_TRADES]
    return desk, ids


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
    assert triangle[6:10] == ["300", "1.1", "-0.4", "p2p:USDT/VES > spot:BTC/USDT > p2p:BTC/VES"]


def test_the_grids_flat_rows_page_with_their_routes(pg_desk):
    desk, ids = pg_desk
    with desk.sessions() as session:
        rows = th.page_rows(session, th.TradeFilter(), th.Page("profit_usd", False, 1, 2))
    assert [r.id for r in rows] == [ids[4], ids[3]]  # no profit first, then -0.40
    assert rows[1].route == "p2p:USDT/VES > spot:BTC/USDT > p2p:BTC/VES"
