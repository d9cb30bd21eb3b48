"""Daily limits count the trades filled since midnight UTC: crossed in the middle of the
day they refuse the next trade with the numbers; the next day starts from zero."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.market import ingest
from backend.models import Trade
from backend.trading import controls, executor, risk, trades
from tests.unit.conftest import crossed_books

D = Decimal


def limits(**values):
    base = dict(
        kill_switch=False,
        min_profit_usd=D("0.5"),
        max_trade_usd=D(10000),
        max_daily_notional_usd=D(2500),
        max_daily_loss_usd=D(500),
        max_open_tickets=10,
    )
    return controls.Controls(**(base | values))


def test_the_daily_loss_limit_counts_realized_losses_and_the_trade_about_to_happen():
    c = limits(min_profit_usd=D(0))
    assert risk.refusals(c, D(100), D(1), [], risk.Day(D(0), D("-499.99"))) == []
    assert risk.refusals(c, D(100), D(1), [], risk.Day(D(0), D(-500))) == [
        "realized loss today 500.00 USD reaches the 500 USD daily loss limit"
    ]
    # a trade that would lose takes the day past its limit: both reasons are named
    assert risk.refusals(c, D(100), D("-0.02"), [], risk.Day(D(0), D("-499.99"))) == [
        "realized loss today 499.99 USD reaches the 500 USD daily loss limit",
        "profit at current books -0.02 USD is below the 0 USD minimum (and must be above zero)",
    ]
    # one that would take the day exactly to its limit does not break it
    assert risk.refusals(c, D(100), D("-0.01"), [], risk.Day(D(0), D("-499.99"))) == [
        "profit at current books -0.01 USD is below the 0 USD minimum (and must be above zero)",
    ]
    # a day in profit has no loss, whatever its size
    assert risk.refusals(c, D(100), D(1), [], risk.Day(D(0), D(9000))) == []
    # and its profit does not widen the loss budget: 550 lost now is past 500
    assert risk.Day(D(0), D(100)).loss_usd == 0
    assert risk.refusals(c, D(100), D(-550), [], risk.Day(D(0), D(100)))[0] == (
        "realized loss today 0.00 USD reaches the 500 USD daily loss limit"
    )


def test_a_zero_minimum_still_refuses_a_trade_that_makes_nothing():
    c = limits(min_profit_usd=D(0))
    assert risk.refusals(c, D(100), D("0.01"), []) == []
    assert risk.refusals(c, D(100), D(0), []) == [
        "profit at current books 0.00 USD is below the 0 USD minimum (and must be above zero)"
    ]


def test_the_daily_notional_includes_the_trade_asked_for():
    c = limits()
    assert risk.refusals(c, D(500), D(1), [], risk.Day(D(2000), D(0))) == []
    assert risk.refusals(c, D("500.01"), D(1), [], risk.Day(D(2000), D(0))) == [
        "daily notional 2000 + 500.01 USD exceeds the 2500 USD daily limit"
    ]


def test_only_trades_filled_since_midnight_utc_count(desk, opportunity):
    midnight = datetime.combine(desk.now().date(), time(), tzinfo=UTC)
    with desk.sessions.begin() as session:
        for i, (at, size, profit) in enumerate(
            [
                (midnight - timedelta(microseconds=1), D(700), D(-300)),
                (midnight, D(1000), D(-120)),
                (midnight + timedelta(hours=11), D(400), D(20)),
            ]
        ):
            trade, _ = trades.request_trade(
                session, opportunity_id=opportunity.id, size=str(size), key=f"d{i}",
                user="t", now=desk.now(),
            )  # fmt: skip
            trade.status, trade.updated_at, trade.profit_usd = "filled", at, profit
    with desk.sessions() as session:
        day = executor.today(session, midnight + timedelta(hours=12))
    assert day == risk.Day(D(1400), D(-100))
    assert day.loss_usd == D(100)


def test_the_notional_limit_crossed_mid_day_refuses_until_the_next_day(desk, opportunity):
    with desk.sessions.begin() as session:
        controls.change(session, "max_daily_notional_usd", "2500", actor="t", now=desk.now())
        ids = [
            trades.request_trade(
                session, opportunity_id=opportunity.id, size="1000", key=f"n{i}", user="t",
                now=desk.now(),
            )[0].id
            for i in range(4)
        ]  # fmt: skip

    def run(trade_id, clock=desk.now):
        return executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, clock)

    assert [run(ids[0]), run(ids[1]), run(ids[2])] == ["filled", "filled", "rejected"]
    with desk.sessions() as session:
        assert session.get(Trade, ids[2]).error == (
            "daily notional 2000 + 1000 USD exceeds the 2500 USD daily limit"
        )
    tomorrow = datetime.combine(desk.now().date() + timedelta(days=1), time(), tzinfo=UTC)
    with desk.sessions.begin() as session:  # fresh books just after midnight
        for b in crossed_books(tomorrow):
            ingest.store(session, desk.cache, desk.settings, b, tomorrow)
    assert run(ids[3], clock=lambda: tomorrow + timedelta(seconds=1)) == "filled"
    with desk.sessions() as session:
        filled = session.scalars(select(Trade.id).where(Trade.status == "filled")).all()
    assert sorted(filled) == [ids[0], ids[1], ids[3]]


def test_a_kill_switch_written_by_hand_stops_trading_unless_it_says_false(desk):
    """Fail closed: "TRUE", or anything but "false", typed into the settings table by hand
    stops trading rather than being ignored."""
    from backend.models import Setting

    hand_typed = (("TRUE", True), ("yes", True), ("", True), (" False ", False), ("false", False))
    for stored, on in hand_typed:
        with desk.sessions.begin() as session:
            session.merge(Setting(key="kill_switch", value=stored, updated_at=datetime.now(UTC)))
        with desk.sessions() as session:
            assert controls.load(session, desk.settings).kill_switch is on, stored


def test_the_open_ticket_limit_is_a_whole_number_of_at_most_six_digits(desk):
    now = datetime.now(UTC)
    with desk.sessions.begin() as session:
        controls.change(session, "max_open_tickets", "999999", actor="t", now=now, reason="r")
        for bad in ("1000000", "9" * 30, "-1", "2.5", "٣"):
            with pytest.raises(ValueError, match="whole number"):
                controls.change(session, "max_open_tickets", bad, actor="t", now=now, reason="r")
    with desk.sessions() as session:
        assert controls.load(session, desk.settings).max_open_tickets == 999999


def test_a_margin_is_a_fraction_below_one_and_a_value_already_in_force_records_nothing(desk):
    now = datetime.now(UTC)
    key = controls.MARGIN + "COP->VES"
    with desk.sessions.begin() as session:
        assert controls.change(session, key, "0.999999", actor="t", now=now, reason="r")
        for bad in ("1", "1.0", "1.5"):
            with pytest.raises(ValueError, match="fraction from 0 to below 1"):
                controls.change(session, key, bad, actor="t", now=now, reason="r")
        assert controls.change(session, key, "0.999999", actor="t", now=now, reason="again") is None
        assert controls.change(session, key, "0.05", actor="t", now=now, reason="r")
    with desk.sessions() as session:
        history = [(c.key, c.new_value) for c in controls.history(session)]
        assert history == [(key, "0.05"), (key, "0.999999")]
        assert controls.margins(session) == {"COP->VES": Decimal("0.05")}


def test_a_zero_daily_loss_limit_lets_profitable_trades_go_until_the_day_loses():
    c = limits(max_daily_loss_usd=D(0))
    assert risk.refusals(c, D(100), D(1), [], risk.Day(D(0), D(0))) == []
    # 0.01 lost today is past a 0 USD limit, however much the next trade would make
    assert risk.refusals(c, D(100), D(10), [], risk.Day(D(0), D("-0.01"))) == [
        "realized loss today 0.01 USD reaches the 0 USD daily loss limit"
    ]


def test_an_account_may_not_go_below_its_floor_at_any_step_of_the_trade():
    c = limits(floors={"binance:USDT": D(50)})
    held = {"binance:USDT": D(100)}
    # 100 - 50 = 50: exactly the floor is allowed
    assert risk.overdrafts(c, held, [("binance:USDT", D(-50))]) == []
    # 100 - 30 - 40 = 30 < 50: both payments are named together
    assert risk.overdrafts(c, held, [("binance:USDT", D(-30)), ("binance:USDT", D(-40))]) == [
        "insufficient balance: binance:USDT holds 100 USDT, the trade pays 70 from it (floor 50)"
    ]
    # what comes in later does not pay for what goes out first: 100 - 60 = 40 < 50
    assert risk.overdrafts(c, held, [("binance:USDT", D(-60)), ("binance:USDT", D(500))]) == [
        "insufficient balance: binance:USDT holds 100 USDT, the trade pays 60 from it (floor 50)"
    ]


def test_an_account_below_its_floor_may_still_receive_and_counterparties_have_no_floor():
    c = limits(floors={"binance:USDT": D(50)})
    assert risk.overdrafts(c, {"binance:USDT": D(10)}, [("binance:USDT", D(5))]) == []
    assert risk.overdrafts(c, {}, [("market:p2p:USDT/VES:USDT", D(-1000))]) == []


def test_the_loss_of_a_trade_unwound_or_closed_today_counts_and_an_unsettled_ones_does_not(
    desk, opportunity
):
    with desk.sessions.begin() as session:
        for i, (status, size, profit) in enumerate(
            [
                ("filled", D(100), D(5)),
                ("unwound", D(200), D(-30)),
                ("closed", D(400), D(-50)),
                ("stranded", D(800), D(-1000)),
                ("rejected", D(1600), None),
            ]
        ):
            trade, _ = trades.request_trade(
                session, opportunity_id=opportunity.id, size=str(size), key=f"s{i}",
                user="t", now=desk.now(),
            )  # fmt: skip
            trade.status, trade.profit_usd = status, profit
    with desk.sessions() as session:
        day = executor.today(session, desk.now())
    # 100 + 200 + 400 = 700 USD traded; 5 - 30 - 50 = -75 USD realized
    assert day == risk.Day(D(700), D(-75))


def test_the_days_realized_loss_refuses_the_next_trade_at_its_limit(desk, opportunity):
    """A fill, an unwind and a close today: 129.69 - 400 - 229.69 = -500.00 USD, exactly
    the 500 USD daily loss limit, so the next trade is refused with that number."""
    with desk.sessions.begin() as session:
        controls.change(session, "max_daily_loss_usd", "500", actor="t", now=desk.now())
        for i, (status, profit) in enumerate(
            [("filled", D("129.69")), ("unwound", D(-400)), ("closed", D("-229.69"))]
        ):
            trade, _ = trades.request_trade(
                session, opportunity_id=opportunity.id, size="1000", key=f"l{i}", user="t",
                now=desk.now(),
            )  # fmt: skip
            trade.status, trade.profit_usd = status, profit
        trade_id = trades.request_trade(
            session, opportunity_id=opportunity.id, size="1000", key="next", user="t",
            now=desk.now(),
        )[0].id  # fmt: skip
    assert executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now) == (
        "rejected"
    )
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).error == (
            "realized loss today 500.00 USD reaches the 500 USD daily loss limit"
        )


def test_a_trade_requested_before_midnight_and_filled_after_counts_in_the_new_day(
    desk, opportunity
):
    """The day's sums go by when a trade was filled (its last change), not requested."""
    with desk.sessions.begin() as session:
        trade_id = trades.request_trade(
            session, opportunity_id=opportunity.id, size="1000", key="late", user="t",
            now=desk.now(),
        )[0].id  # fmt: skip
    tomorrow = datetime.combine(desk.now().date() + timedelta(days=1), time(), tzinfo=UTC)
    with desk.sessions.begin() as session:  # fresh books just after midnight
        for b in crossed_books(tomorrow):
            ingest.store(session, desk.cache, desk.settings, b, tomorrow)
    filled_at = tomorrow + timedelta(seconds=1)
    assert executor.execute(desk.sessions, desk.cache, desk.settings, trade_id,
                            lambda: filled_at) == "filled"  # fmt: skip
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).updated_at == filled_at
        assert executor.today(session, filled_at) == risk.Day(D(1000), D("29.69"))
