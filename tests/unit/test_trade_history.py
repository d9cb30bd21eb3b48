"""The trade history searched on the server: filters, sorting, paging, totals, the P&L
curve and the CSV export, on the embedded SQLite (PostgreSQL: tests/integration)."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.trading import trade_history as th
from tests.factories import FIVE_TRADES, recorded_trade

D = Decimal


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def history(desk):
    with desk.sessions.begin() as session:
        return [recorded_trade(session, **spec).id for spec in FIVE_TRADES]


def ids(desk, args, **page):
    with desk.sessions() as session:
        rows = th.page(session, th.TradeFilter.parse(args), th.Page(**page))
        return [t.id for t in rows]


@pytest.mark.parametrize(
    "args,expected",
    [
        ({"user": "ana"}, [3, 1]),
        ({"status": "filled"}, [4, 2, 1]),
        ({"market": "spot:BTC/USDT"}, [4]),
        ({"market": "p2p:USDT/BRL", "status": "filled"}, [2]),
        ({"strategy": "crossed_book", "user": "ben"}, [5]),
        ({"from": "2026-11-26", "to": "2026-11-26"}, [3, 2]),  # a date "to" is the whole day
        ({"from": "2026-11-26T09:00Z", "to": "2026-11-27T00:00:00+00:00"}, [3, 2]),  # to excluded
        ({"from": "2026-11-27T01:00+01:00"}, [5, 4]),  # offsets are converted to UTC
        ({"user": "nobody"}, []),
        ({"from": "2026-11-28", "to": "2026-11-27"}, []),  # ends before it starts
    ],
)
def test_filters_select_exactly_the_matching_trades(desk, history, args, expected):
    assert ids(desk, args) == [history[i - 1] for i in expected]


def test_sorting_by_profit_puts_trades_without_one_first_and_pages_do_not_overlap(desk, history):
    order = [
        ids(desk, {}, sort="profit_usd", descending=False, offset=o, limit=2) for o in (0, 2, 4)
    ]
    assert [i for chunk in order for i in chunk] == [history[i - 1] for i in (3, 5, 4, 1, 2)]


def test_totals_are_exact_sums_of_the_filtered_set(desk, history):
    with desk.sessions() as session:
        filled = th.totals(session, th.TradeFilter.parse({"status": "filled"}))
        everything = th.totals(session, th.TradeFilter())
    assert (filled.count, filled.size_usd, filled.profit_usd) == (3, D("1800"), D("2.95"))
    assert filled.expected_profit_usd == D("3.30")
    assert everything.by_status == {"filled": 3, "rejected": 1, "failed": 1}
    assert everything.size_usd == D("2100")
    # what the trades that made something were sized and expected to make: the filled
    # three, not the rejection's or the failure's expectation
    realized = (everything.realized, everything.realized_size_usd)
    assert realized == (3, D("1800")) and everything.realized_expected_usd == D("3.30")
    assert everything.expected_profit_usd != everything.realized_expected_usd


def test_a_trade_refused_before_any_leg_counts_in_the_markets_it_was_requested_for(desk):
    """Refused by a limit or the kill switch, a request has no leg: it still shows its
    route, a market filter finds it, that market's totals count it, nothing drifts."""
    from backend.trading import trade_days

    triangle = ("p2p:USDT/VES", "p2p:BTC/VES", "spot:BTC/USDT")
    with desk.sessions.begin() as session:
        refused = recorded_trade(
            session, at=at("2026-11-27 10:00"), status="rejected", profit=None,
            markets=triangle, with_legs=False,
        ).id  # fmt: skip
        filled = recorded_trade(session, at=at("2026-11-27 11:00")).id
        waiting = recorded_trade(
            session, at=at("2026-11-27 12:00"), status="queued", profit=None,
            markets=triangle, with_legs=False,
        ).id  # fmt: skip
    assert ids(desk, {"market": "p2p:BTC/VES"}) == [waiting, refused]
    assert ids(desk, {"market": "p2p:USDT/VES"}) == [waiting, filled, refused]
    assert ids(desk, {"market": "spot:USDT/BRL"}) == []
    with desk.sessions() as session:
        rows = th.page_rows(session, th.TradeFilter(), th.Page(sort="id", descending=False))
        assert [r.route for r in rows] == [
            "p2p:USDT/VES > p2p:BTC/VES > spot:BTC/USDT",
            "p2p:USDT/VES > p2p:USDT/VES",
            "p2p:USDT/VES > p2p:BTC/VES > spot:BTC/USDT",
        ]
        on_btc = th.totals(session, th.TradeFilter(market="spot:BTC/USDT"))
        assert on_btc.by_status == {"rejected": 1, "queued": 1}
        assert on_btc.size_usd == D("1000")
        assert trade_days.drift(session) == []


def test_the_summary_api_and_its_cached_copy_carry_the_realized_trades_sums(client, history):
    for _ in range(2):  # computed, then read back from the cache
        summary = client.get("/api/v1/trades/summary").json
        assert (summary["realized"], summary["realized_size_usd"]) == (3, "1800")
        assert D(summary["realized_expected_usd"]) == D("3.30")
        assert D(summary["size_usd"]) == D("2100")


def test_the_pnl_curve_accumulates_realized_profit_in_time_order(desk, history):
    with desk.sessions() as session:
        curve = th.cumulative_pnl(session, th.TradeFilter())
    assert [total for _, total in curve] == [D("1.25"), D("3.35"), D("2.95")]
    times = [t for t, _ in curve]
    assert times == sorted(times) and times[0] > at("2026-11-25 10:00")


def test_the_csv_export_holds_the_filtered_rows_with_routes_in_leg_order(desk, history):
    flt = th.TradeFilter.parse({"status": "filled"})
    headers = [f"h{i}" for i in range(len(th.EXPORT_COLUMNS))]
    with desk.sessions() as session:
        chunks = list(
            th.export_csv(session, flt, th.Page(sort="id", descending=False), headers, batch=2)
        )
    assert len(chunks) > 2  # written batch by batch, not built whole
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert rows[0] == headers
    assert [r[0] for r in rows[1:]] == [str(history[i]) for i in (0, 1, 3)]
    triangle = rows[3]
    assert triangle[1] == "2026-11-27T00:00:00+00:00"
    assert triangle[2] == "'=cmd"  # a spreadsheet must not run it as a formula
    assert triangle[6:9] == ["300", "1.1", "-0.4"]
    assert triangle[9] == "p2p:USDT/VES > p2p:BTC/VES > spot:BTC/USDT"


@pytest.mark.parametrize(
    "query,message",
    [
        ("from=yesterday", "from must be a date"),
        ("to=2026-02-30", "to must be a date"),
        ("market=x'%20OR%201=1", "market must look like"),
        ("status=FILLED;DROP", "status is a lowercase word"),
        ("sort=password_hash", "sort must be one of"),
        ("order=sideways", "order must be asc or desc"),
        ("limit=100000", "limit must be a whole number from 1 to 500"),
        ("offset=-1", "offset must be a whole number"),
        ("offset=%C2%B2", "offset must be a whole number"),  # "²": isdigit() says yes
        ("limit=%D9%A5", "limit must be a whole number"),  # an Arabic-Indic 5
        ("user=" + "u" * 65, "user is a login name"),
        ("user=", "leave it out"),
        ("status=%20filled", "status is a lowercase word"),
    ],
)
def test_hostile_search_parameters_get_a_422_with_a_message(client, history, query, message):
    for path in ("/api/v1/trades", "/api/v1/trades/summary", "/api/v1/trades/export.csv"):
        r = client.get(f"{path}?{query}")
        if path.endswith("summary") and query.startswith(("sort", "order", "limit", "offset")):
            assert r.status_code == 200  # paging does not apply to totals
            continue
        assert r.status_code == 422, (path, r.data[:200])
        assert message in r.json["error"]


def test_the_api_pages_filters_and_summarises(client, history):
    r = client.get("/api/v1/trades?user=ben&sort=size_usd&order=asc&limit=1")
    assert [t["id"] for t in r.json["trades"]] == [history[4]]
    summary = client.get("/api/v1/trades/summary?from=2026-11-26&to=2026-11-27").json
    assert (summary["count"], D(summary["profit_usd"])) == (3, D("1.70"))
    assert [D(p["profit_usd"]) for p in summary["pnl"]] == [D("2.10"), D("1.70")]


@pytest.mark.parametrize(
    "bounds",
    [
        "from=9999-12-31T00:00:01Z",
        "to=9999-12-31T23:59:59.999999Z",
        "to=9999-12-31",
        "from=0001-01-01T00:00Z&to=9999-12-31",
        "from=0001-01-01",
    ],
)
def test_bounds_at_the_ends_of_the_calendar_select_as_far_as_there_are_trades(
    client, history, bounds
):
    """Day and hour arithmetic on year 1 or 9999 overflows: such a bound is kept to
    1970..9000, which selects the same trades (every trade here, or none)."""
    everything = client.get("/api/v1/trades/summary").json["count"]
    summary = client.get(f"/api/v1/trades/summary?{bounds}")
    assert summary.status_code == 200
    assert summary.json["count"] == (0 if bounds.startswith("from=9999") else everything)
    for path in ("/api/v1/trades", "/api/v1/trades/export.csv"):
        assert client.get(f"{path}?{bounds}").status_code == 200, path


def test_a_viewer_downloads_the_filtered_csv(app, history):
    from tests.conftest import api_client

    r = api_client(app, "viewer").get("/api/v1/trades/export.csv?market=spot:BTC/USDT")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="trades-')
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:3] == ["Trade", "Requested at (UTC)", "Requested by"]
    assert [r[0] for r in rows[1:]] == [str(history[3])]


def test_nobody_logged_out_reads_the_history(anonymous, history):
    assert anonymous.get("/api/v1/trades/export.csv").status_code == 401
    assert anonymous.get("/api/v1/trades/summary").status_code == 401


def test_the_trade_detail_shows_each_legs_price_after_slippage(client, desk, opportunity):
    from backend.trading import executor

    r = client.post(
        "/api/v1/trades", json={"opportunity_id": opportunity.id}, headers={"Idempotency-Key": "d"}
    )
    executor.execute(desk.sessions, desk.cache, desk.settings, r.json["id"], desk.now)
    detail = client.get(f"/api/v1/trades/{r.json['id']}").json
    sell, buy = detail["legs"]
    usdt = sum(D(p["amount"]) for p in detail["postings"] if p["account"] == "binance:USDT")
    assert usdt == D(detail["profit_usd"])  # the house's USDT moved by exactly the profit
    # PAPER_SLIPPAGE 0.0005 moves the 330 bid down and the ask walked at ~320 up, fees
    # apart; the venue rounds what the buy received down to its step, so that price sits
    # a hair above price / (1 - slippage), never below it.
    assert (sell["price"], sell["price_after_slippage"]) == ("330", "329.83500000")
    ideal = D(buy["price"]) / (1 - D("0.0005"))
    after = D(buy["price_after_slippage"])
    assert ideal <= after < ideal * (1 + D("0.00001"))


def test_the_csv_headers_are_in_the_readers_language(client, history):
    r = client.get("/api/v1/trades/export.csv?status=rejected", headers={"Accept-Language": "es"})
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:3] == ["Operación", "Solicitada el (UTC)", "Solicitada por"]
    assert [row[0] for row in rows[1:]] == [str(history[2])]


def test_a_filters_summary_is_shared_from_the_cache_until_it_expires(desk, history):
    from backend.cache import LocalCache

    clock = [0.0]
    cache = LocalCache(clock=lambda: clock[0])
    flt = th.TradeFilter.parse({"status": "filled"})
    with desk.sessions() as session:
        first = th.summary(session, cache, flt)
    with desk.sessions.begin() as session:
        recorded_trade(session, at=at("2026-11-28 13:00"), profit="5.00")
    with desk.sessions() as session:
        again = th.summary(session, cache, flt)  # from the cache, equal to what was computed
        other = th.summary(session, cache, th.TradeFilter.parse({"user": "ana"}))
        clock[0] = th.SUMMARY_TTL + 1
        later = th.summary(session, cache, flt)
    assert again == first and again.totals.profit_usd == D("2.95")
    assert other.totals.count == 3  # another filter is its own entry: the new trade counts
    assert (later.totals.count, later.totals.profit_usd) == (4, D("7.95"))
    assert later.pnl[-1][1] == D("7.95")


@pytest.fixture
def many(desk):
    """23 trades: users, strategies and statuses repeat (ties broken by time, then id),
    times and sizes vary, some without a profit."""
    users, statuses = ("ana", "ben", "carla"), ("filled", "rejected", "cancelled", "queued")
    with desk.sessions.begin() as session:
        for n in range(23):
            recorded_trade(
                session,
                at=at(f"2026-11-{10 + n % 7:02d} {n % 24:02d}:00"),
                user=users[n % 3],
                status=statuses[n % 4],
                strategy=("triangle", "crossed_book")[n % 2],
                size=str(100 + (n * 37) % 400),
                profit=None if n % 5 == 0 else f"{n - 8}.5",
            )


@pytest.mark.parametrize("sort", [s for s in th.SORTABLE if s not in th.NULLABLE])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("args", [{}, {"status": "filled"}, {"market": "p2p:USDT/VES"}])
def test_blocks_served_in_order_seek_from_the_last_key_and_equal_the_offset_pages(
    desk, many, sort, descending, args
):
    from backend.cache import LocalCache

    cache, flt = LocalCache(), th.TradeFilter.parse(args)
    with desk.sessions() as session:
        by_offset = [
            [r.id for r in th.page_rows(session, flt, th.Page(sort, descending, o, 4))]
            for o in range(0, 24, 4)
        ]
        seeks = []
        for o in range(0, 24, 4):
            key = cache.get(th._seek_key(flt, th.Page(sort, descending, o, 4), o))
            seeks.append(key is not None)
            rows = th.block(session, cache, flt, th.Page(sort, descending, o, 4))
            assert [r.id for r in rows] == by_offset[o // 4], (o, key)
    full = [len(chunk) == 4 for chunk in by_offset]
    assert seeks == [False, *full[:-1]]  # every block after a full one sought its start
    every = [i for chunk in by_offset for i in chunk]
    assert len(every) == len(set(every))


def test_a_block_seeks_from_the_key_kept_for_its_start_not_from_the_offset(desk, many):
    """The seek is what is used: a key planted for row 4 starts the block after it."""
    from backend.cache import LocalCache

    cache, flt, pg = LocalCache(), th.TradeFilter(), th.Page("requested_by", False, 4, 3)
    with desk.sessions() as session:
        every = th.page_rows(session, flt, th.Page("requested_by", False, 0, 23))
        planted = ["ben", every[12].created_at.isoformat(), every[12].id]
        cache.set(th._seek_key(flt, pg, 4), json.dumps(planted), 60)
        rows = th.block(session, cache, flt, pg)
    assert [r.id for r in rows] == [r.id for r in every[13:16]]


@pytest.mark.parametrize("sort", ["requested_by", "strategy", "status"])
def test_the_history_sorts_by_user_strategy_and_status_ties_by_time_then_id(desk, many, sort):
    with desk.sessions() as session:
        rows = th.page_rows(session, th.TradeFilter(), th.Page(sort, True, 0, 50))
    keys = [(getattr(r, sort), r.created_at, r.id) for r in rows]
    assert len(keys) == 23 and keys == sorted(keys, reverse=True)


def same_instant_trades(desk) -> None:
    """Trades over three days, three of them at one instant for one user and status (only
    the id tells them apart), some on midnight itself."""
    specs = [("ben", "filled", "2026-11-12 09:00")] * 3 + [
        (("ana", "ben", "carla")[n % 3], ("filled", "rejected")[n % 2],
         f"2026-11-{11 + n % 3} {(n * 5) % 24:02d}:00")
        for n in range(17)
    ]  # fmt: skip
    with desk.sessions.begin() as session:
        for user, status, when in specs:
            recorded_trade(session, at=at(when), user=user, status=status)


def check_paging_forward_and_back(desk, monkeypatch, sort: str, descending: bool) -> None:
    """Scrolling on (seeks) and jumping back (skips whole groups and days, then counts)
    serve exactly the rows of the order (column, created_at, id), none twice or missed."""
    from backend.cache import LocalCache

    monkeypatch.setattr(th, "SKIP_FROM", 1)  # every jump skips what the rollup can
    cache, flt, size = LocalCache(), th.TradeFilter(), 3
    with desk.sessions() as session:
        every = th.page_rows(session, flt, th.Page(sort, descending, 0, th.MAX_PAGE))
        want = sorted(every, key=lambda r: (getattr(r, sort), r.created_at, r.id))
        assert [r.id for r in every] == [r.id for r in want[:: -1 if descending else 1]]
        ids = [r.id for r in every]
        forward = [
            r.id
            for o in range(0, len(ids), size)
            for r in th.block(session, cache, flt, th.Page(sort, descending, o, size))
        ]
        back = {
            o: [
                r.id
                for r in th.block(session, LocalCache(), flt, th.Page(sort, descending, o, size))
            ]
            for o in reversed(range(0, len(ids), size))
        }
    assert forward == ids
    assert [i for o in sorted(back) for i in back[o]] == ids


@pytest.mark.parametrize("sort", ["requested_by", "strategy", "status"])
@pytest.mark.parametrize("descending", [True, False])
def test_paging_by_a_group_forward_and_back_never_skips_or_repeats_a_row(
    desk, monkeypatch, sort, descending
):
    same_instant_trades(desk)
    check_paging_forward_and_back(desk, monkeypatch, sort, descending)


def in_flight_trades(desk) -> None:
    """Trades of one day at several hours, a third of them settled: a jump counts the
    others' hours from the trades."""
    with desk.sessions.begin() as session:
        for n in range(14):
            recorded_trade(session, at=at(f"2026-11-12 {n * 7 % 24:02d}:{n:02d}"),
                           user=("ana", "ben")[n % 2],
                           status=("executing", "filled", "queued")[n % 3])  # fmt: skip


@pytest.mark.parametrize("sort", ["created_at", "requested_by"])
@pytest.mark.parametrize("descending", [True, False])
def test_a_jump_skips_whole_hours_counting_trades_in_flight(desk, monkeypatch, sort, descending):
    in_flight_trades(desk)
    check_paging_forward_and_back(desk, monkeypatch, sort, descending)


@pytest.mark.parametrize("descending", [True, False])
def test_a_jump_lands_on_the_hour_of_its_row(desk, monkeypatch, descending):
    """One trade an hour, settled ones in the day's first and last hours: every jump
    skips all the trades before its row, in flight or settled, and walks none."""
    hours = {
        0: "filled",
        3: "executing",
        9: "rejected",
        14: "queued",
        20: "executing",
        23: "filled",
    }
    with desk.sessions.begin() as session:
        for hour, status in hours.items():
            recorded_trade(session, at=at(f"2026-11-12 {hour:02d}:30"), status=status)
    monkeypatch.setattr(th, "SKIP_FROM", 1)
    flt = th.TradeFilter()
    with desk.sessions() as session:
        for offset in range(1, len(hours)):
            bound, left = th._skip(session, flt, th.Page("created_at", descending, offset, 1))
            assert bound is not None and left == 0, offset
        beyond = th.Page("created_at", descending, len(hours), 1)
        assert th._skip(session, flt, beyond) == (None, len(hours))


def test_the_status_filter_takes_every_status_of_the_one_list_and_no_other(desk, many):
    from backend.trading import trades

    assert {"awaiting_operator", "cancelled"} <= set(trades.STATUSES)
    for status in trades.STATUSES:
        th.TradeFilter.parse({"status": status})
    with pytest.raises(th.FilterError, match="status must be one of"):
        th.TradeFilter.parse({"status": "unknown"})
    with desk.sessions() as session:
        found = th.totals(session, th.TradeFilter.parse({"status": "cancelled"}))
    assert found.by_status == {"cancelled": 6}


@pytest.mark.parametrize("sort", ["created_at", "requested_by", "strategy", "status"])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize(
    "args", [{}, {"status": "filled"}, {"user": "ben"}, {"from": "2026-11-11", "to": "2026-11-14"}]
)
def test_a_jump_skips_whole_groups_counted_by_the_rollup(
    desk, many, monkeypatch, sort, descending, args
):
    with desk.sessions.begin() as session:  # on the boundaries between days
        for day in (11, 12, 13, 14):
            recorded_trade(session, at=at(f"2026-11-{day} 00:00"), user="ben")
    flt = th.TradeFilter.parse(args)
    with desk.sessions() as session:
        pages = {}
        for skip in (10**9, 1, 4):  # never skip days, then always (hours too), then days
            monkeypatch.setattr(th, "SKIP_FROM", skip)
            pages[skip] = [
                [r.id for r in th.page_rows(session, flt, th.Page(sort, descending, o, 3))]
                for o in range(0, 28)
            ]
        bound, offset = th._skip(session, flt, th.Page(sort, descending, 20, 3))
    assert pages[1] == pages[4] == pages[10**9]
    if not args:
        assert bound is not None and offset < 20  # whole groups were skipped


@pytest.mark.parametrize(
    "args",
    [{}, {"user": "ben"}, {"from": "2026-10-03T12:00Z", "to": "2026-10-25T06:00Z"}],
)
def test_a_long_pnl_curve_adds_up_days_from_the_rollup_and_the_partial_days(desk, args):
    """Over DAILY_CURVE_DAYS or more, one point per UTC day with a realized trade: the
    profit to the end of that day, partial days at the edges counted from the trades."""
    specs = [
        dict(
            at=at(f"2026-10-{d:02d} {h:02d}:30"),
            user=("ana", "ben")[d % 2],
            profit=None if d % 4 == 0 else f"{d - 11}.{h:02d}",
        )
        for d in range(1, 29)
        for h in (3, 18)
    ]
    with desk.sessions.begin() as session:
        for spec in specs:
            recorded_trade(session, **spec)
    flt = th.TradeFilter.parse(args)
    daily: dict = {}
    for spec in specs:
        inside = (flt.start is None or spec["at"] >= flt.start) and (
            flt.end is None or spec["at"] < flt.end
        )
        if inside and spec["profit"] and spec["user"] == (flt.user or spec["user"]):
            day = spec["at"].date()
            daily[day] = daily.get(day, D(0)) + D(spec["profit"])
    expected, total = [], D(0)
    for day in sorted(daily):
        total += daily[day]
        expected.append((datetime.combine(day, datetime.min.time(), UTC) + th.timedelta(1), total))
    with desk.sessions() as session:
        assert th.cumulative_pnl(session, flt) == expected


@pytest.mark.parametrize("text", ["-2010 Account has insufficient balance", "+1", "@SUM(A1)", "=1"])
def test_an_export_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(text):
    assert th._cell(text) == "'" + text
    assert th._cell("binance error " + text) == "binance error " + text  # only a leading sign
