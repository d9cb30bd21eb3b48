"""Unwind planning: the reverse legs of a cycle stopped halfway, pure."""

from dataclasses import dataclass
from decimal import Decimal as D

from backend.trading.execution import Fees, Leg
from backend.trading.unwind import (
    STRANDED,
    UNWINDING,
    UNWOUND,
    Left,
    next_step,
    plan,
    reverse,
    reverse_legs,
)

SELL_SPOT = Leg("spot:USDT/BRL", "SELL", None, "USDT", "BRL")
BUY_PIX = Leg("p2p:USDT/BRL", "BUY", "Pix", "BRL", "USDT")
SELL_MERC = Leg("p2p:USDT/VES", "SELL", "Mercantil", "USDT", "VES")
BUY_BTC = Leg("spot:BTC/VES", "BUY", None, "VES", "BTC")
SELL_BTC = Leg("spot:BTC/USDT", "SELL", None, "BTC", "USDT")
BUY_BANESCO = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")
FEES = Fees(transfer=D("0.001"))


@dataclass
class Row:
    seq: int
    buy_amount: D
    sell_amount: D = D("1000")  # what leg 1 (or a reverse leg) spent, unless said
    price: D | None = None


def test_a_leg_reversed_takes_the_other_side_of_its_market_between_the_same_currencies():
    assert reverse(SELL_MERC) == Leg("p2p:USDT/VES", "BUY", "Mercantil", "VES", "USDT")
    assert reverse(BUY_BTC) == Leg("spot:BTC/VES", "SELL", None, "BTC", "VES")


def test_the_reverse_legs_go_last_first_back_to_the_starting_currency():
    legs = reverse_legs([SELL_MERC, BUY_BTC])
    assert [(leg.market, leg.side, leg.src, leg.dst) for leg in legs] == [
        ("spot:BTC/VES", "SELL", "BTC", "VES"),
        ("p2p:USDT/VES", "BUY", "VES", "USDT"),
    ]
    assert reverse_legs([]) == ()


def test_fiat_already_in_a_bank_is_paid_from_that_bank():
    # the VES were moved to Banesco for the leg that never happened: buy back from there
    legs = reverse_legs([SELL_MERC], held_at="bank:Banesco:VES")
    assert legs == (Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT"),)


def test_the_steps_are_numbered_after_the_cycle_and_each_spends_what_the_last_one_got():
    cycle = (SELL_MERC, BUY_BTC, SELL_BTC)
    rows = [Row(1, D("330000")), Row(2, D("0.005"), D("330000"))]
    first = next_step(cycle, rows, FEES)
    assert (first.seq, first.leg, first.amount, first.held) == (
        4, reverse(BUY_BTC), D("0.005"), D("0.005"),
    )  # fmt: skip
    # the BTC sits on spot where leg 3 would have sold it: no move, no fee
    assert not first.moves and first.move_fee == 0 and first.next == reverse(SELL_MERC)
    second = next_step(cycle, [*rows, Row(4, D("325000"), D("0.005"))], FEES)
    assert (second.seq, second.leg, second.amount, second.next) == (
        5, reverse(SELL_MERC), D("325000"), None,
    )  # fmt: skip
    back = [Row(4, D("325000"), D("0.005")), Row(5, D("980"), D("325000"))]
    assert next_step(cycle, [*rows, *back], FEES) is None


def test_nothing_filled_nothing_to_unwind():
    assert next_step((SELL_MERC, BUY_BANESCO), [], FEES) is None


def test_a_holding_moved_to_a_bank_comes_back_at_the_transfer_fee():
    # leg 1 sold USDT on spot for BRL and moved it to the Pix bank account for leg 2
    step = next_step((SELL_SPOT, BUY_PIX), [Row(1, D("5491.75"))], FEES)
    assert (step.held_at, step.moves) == ("bank:Pix:BRL", True)
    assert step.move_fee == D("5.49175")  # 0.1 %, in Binance spot's BRL step (1e-8)
    assert step.amount == D("5486.25825") and step.held == D("5491.75")
    assert step.leg == reverse(SELL_SPOT)


def test_the_trades_page_names_and_badges_every_unwind_status_in_both_languages():
    from pathlib import Path

    from babel.support import Translations

    from dashboard.pages.trades import STATUS_LABELS as STATUSES

    root = Path(__file__).resolve().parents[2] / "dashboard"
    css = (root / "assets" / "style.css").read_text()
    spanish = Translations.load(root / "translations", ["es"])
    for status in (UNWINDING, UNWOUND, STRANDED):
        assert status in STATUSES and f".badge.{status} " in css
        assert spanish.gettext(status) != status


def test_what_a_leg_left_unspent_of_the_one_before_it_goes_back_once_the_cycle_ends():
    # leg 2 spent 200000 of the 330000 VES leg 1 moved to spot; legs 2 and 3 done
    cycle = (SELL_MERC, BUY_BTC, SELL_BTC)
    rows = [Row(1, D("330000")), Row(2, D("0.003"), D("200000")), Row(3, D("290"), D("0.003"))]
    step, left = plan(cycle, rows, FEES)
    assert (step.seq, step.leg, step.held, step.held_at) == (
        4, reverse(SELL_MERC), D("130000"), "binance:spot:VES",
    )  # fmt: skip
    # back from spot to the Mercantil account it is bought back from, at 0.1 %
    assert (step.move_fee, step.amount, step.next, left) == (D("130.00"), D("129870.00"), None, [])
    done = [*rows, Row(4, D("390.5"), D("129869.99"))]
    # the operator bought back with 0.01 VES less: that goes back too, from Mercantil
    step, left = plan(cycle, done, FEES)
    assert (step.seq, step.leg, step.amount, step.held_at, step.moves, left) == (
        5, reverse(SELL_MERC), D("0.01"), "bank:Mercantil:VES", False, [],
    )  # fmt: skip
    assert plan(cycle, [*done, Row(5, D("0.01"), D("0.01"))], FEES) == (None, [])
    spent = [*rows, Row(4, D("390.5"), D("129870.00"))]  # all of it: nothing is left
    assert plan(cycle, spent, FEES) == (None, [])


def test_what_an_unwind_leg_left_unspent_goes_back_through_it_and_the_legs_after_it():
    # leg 2 (BTC for VES) filled, leg 3 refused: BTC -> VES (spot) -> USDT (Mercantil)
    cycle = (SELL_MERC, BUY_BTC, SELL_BTC)
    rows = [Row(1, D("330000")), Row(2, D("0.005"), D("330000"), D("66000000"))]
    back = [Row(4, D("325000"), D("0.005"))]  # the BTC sold back whole
    step = next_step(cycle, [*rows, *back], FEES)  # the VES bought back at Mercantil
    # (the reverse leg before it stored its proceeds already moved to Mercantil)
    assert (step.seq, step.amount, step.pays_from) == (5, D("325000"), "bank:Mercantil:VES")
    short = [*back, Row(5, D("900"), D("300000"))]  # the operator spent 25000 VES less
    step, left = plan(cycle, [*rows, *short], FEES)
    assert (step.seq, step.leg, step.amount, step.moves, left) == (
        6, reverse(SELL_MERC), D("25000"), False, [],
    )  # fmt: skip
    short_again = [*short, Row(6, D("70"), D("24999.995"))]  # under a cent left: dust
    assert plan(cycle, [*rows, *short_again], FEES) == (
        None, [Left(D("0.005"), "VES", "bank:Mercantil:VES", dust=True)],
    )  # fmt: skip


def test_a_holding_under_its_venues_minimum_is_dust_never_sent():
    cycle = (SELL_MERC, BUY_BTC, SELL_BTC)
    stopped = [Row(1, D("330000")), Row(2, D("0.000004"), D("330000"))]  # under the lot step
    assert plan(cycle, stopped, FEES) == (
        None, [Left(D("0.000004"), "BTC", "binance:spot:BTC", dust=True)],
    )  # fmt: skip
    assert str(plan(cycle, stopped, FEES)[1][0]) == "dust 0.000004 BTC left at binance:spot:BTC"


BUY_BTC_SPOT = Leg("spot:BTC/USDT", "BUY", None, "USDT", "BTC")
SELL_BTC_P2P = Leg("p2p:BTC/VES", "SELL", "Mercantil", "BTC", "VES")


def test_a_spot_holding_under_binances_lot_step_is_dust_though_over_the_desks_step():
    # leg 1 bought 0.00004 BTC on spot, moved to the funding wallet; leg 2 was cancelled
    cycle = (BUY_BTC_SPOT, SELL_BTC_P2P, BUY_BANESCO)
    stopped = [Row(1, D("0.00004"), D("3.6"))]
    lots = Fees(lots=(("BTCUSDT", D("0.0001")),))  # SPOT_LOT_STEPS=BTCUSDT=0.0001
    step, left = plan(cycle, stopped, lots)
    assert step is None and [str(item) for item in left] == [
        "dust 0.00004 BTC left at binance:BTC",
    ]
    # a lot of 0.00001 (the default) sells it back from the spot wallet
    step, left = plan(cycle, stopped, Fees(lots=(("BTCUSDT", D("0.00001")),)))
    assert (step.seq, step.leg, step.amount, step.pays_from, left) == (
        4, reverse(BUY_BTC_SPOT), D("0.00004"), "binance:spot:BTC", [],
    )  # fmt: skip


def test_the_desks_fees_carry_the_configured_lot_steps(tmp_path):
    from backend.trading.quotes import fees_from
    from tests.conftest import embedded_settings

    settings = embedded_settings(tmp_path, spot_lot_steps="BTCUSDT=0.0001,USDTBRL=0.1")
    fees = fees_from(settings)
    assert (fees.lot("BTCUSDT"), fees.lot("USDTBRL"), fees.lot("ETHUSDT")) == (
        D("0.0001"), D("0.1"), D("0"),
    )  # fmt: skip


def test_a_spot_buy_back_needs_one_lot_at_the_price_the_reversed_leg_got():
    cycle = (SELL_SPOT, BUY_PIX)
    lots = Fees(lots=(("USDTBRL", D("0.1")),))
    done = [Row(1, D("5491.75"), D("1000"), D("5.50"))]
    assert plan(cycle, [*done, Row(2, D("1036"), D("5491.21"))], lots) == (
        None, [Left(D("0.54"), "BRL", "bank:Pix:BRL", dust=True)],
    )  # fmt: skip
    step, _ = plan(cycle, [*done, Row(2, D("1036"), D("5491.20"))], lots)
    assert (step.leg, step.amount) == (reverse(SELL_SPOT), D("0.55"))  # one lot at 5.50


def test_each_spot_buy_back_needs_one_lot_at_the_price_its_own_reversed_leg_got():
    # legs 1 (spot, 5.50 BRL per USDT) and 2 (P2P, 5.30) filled, leg 3 cancelled: the
    # USDT goes back to BRL over P2P, then the BRL is bought back on spot at 5.50's lot
    cycle = (SELL_SPOT, BUY_PIX, SELL_MERC)
    lots = Fees(lots=(("USDTBRL", D("0.1")),))
    done = [Row(1, D("5491.75"), D("1000"), D("5.50")), Row(2, D("1036"), D("5491.75"), D("5.30"))]
    back = Row(4, D("0.54"), D("1036"))  # what the P2P reverse leg brought back
    assert plan(cycle, [*done, back], lots) == (
        None, [Left(D("0.54"), "BRL", "binance:spot:BRL", dust=True)],
    )  # fmt: skip  # 0.54 < 0.1 x 5.50 (at leg 2's 5.30 a lot would be 0.53)


def test_a_spot_holding_worth_less_than_the_min_notional_is_dust():
    # leg 1 bought BTC on spot at 60000 USDT; leg 2 was cancelled: sold back on BTCUSDT
    cycle = (BUY_BTC_SPOT, SELL_BTC_P2P, BUY_BANESCO)
    fees = Fees(lots=(("BTCUSDT", D("0.00001")),), notionals=(("BTCUSDT", D("5")),))
    under = [Row(1, D("0.00008"), D("4.8"), D("60000"))]  # 0.00008 x 60000 = 4.8 USDT
    step, left = plan(cycle, under, fees)
    assert step is None and [str(item) for item in left] == ["dust 0.00008 BTC left at binance:BTC"]
    at = [Row(1, D("0.00009"), D("5.4"), D("60000"))]  # 5.4 USDT: sold back
    step, left = plan(cycle, at, fees)
    assert (step.leg, step.amount, left) == (reverse(BUY_BTC_SPOT), D("0.00009"), [])
    # with no minimum configured the same 0.00008 BTC is sold back
    assert plan(cycle, under, Fees(lots=(("BTCUSDT", D("0.00001")),)))[0].amount == D("0.00008")


def test_a_spot_buy_back_under_the_min_notional_is_dust():
    # leg 1 sold BTC for USDT at 60000 on spot; bought back spending the USDT
    cycle = (SELL_BTC, SELL_MERC)
    fees = Fees(notionals=(("BTCUSDT", D("5")),))
    step, left = plan(cycle, [Row(1, D("4.99"), D("0.0000832"), D("60000"))], fees)
    assert step is None and [str(item) for item in left] == [
        "dust 4.99 USDT left at binance:USDT",  # held where the next leg paid from
    ]
    step, left = plan(cycle, [Row(1, D("5.00"), D("0.0000834"), D("60000"))], fees)
    assert (step.leg, step.amount, left) == (reverse(SELL_BTC), D("5.00"), [])


def test_the_desks_fees_carry_the_configured_min_notionals(tmp_path):
    from backend.trading.quotes import fees_from
    from tests.conftest import embedded_settings

    fees = fees_from(embedded_settings(tmp_path))
    assert (fees.notional("BTCUSDT"), fees.notional("ETHUSDT")) == (D("5"), D("0"))
    settings = embedded_settings(tmp_path, spot_min_notionals="BTCUSDT=10,USDTBRL=10")
    assert fees_from(settings).notionals == (("BTCUSDT", D("10")), ("USDTBRL", D("10")))
