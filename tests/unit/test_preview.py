"""The execute dialog's numbers: every leg at the size the trader types, priced the way
the executor fills it, and the executor's reasons to refuse."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from backend.trading import controls
from backend.trading.preview import preview

STEP = Decimal("1e-12")


def run(desk, opportunity, size, now=None):
    with desk.sessions() as session:
        return preview(
            session, desk.cache, desk.settings, opportunity.legs, Decimal(size), now or desk.now()
        )


def test_each_leg_is_filled_at_the_typed_size_net_of_slippage_and_fees(desk, opportunity):
    s, t = desk.settings.paper_slippage, desk.settings.transfer_fee
    result = run(desk, opportunity, "1000")
    sell, buy = result.fills
    # Sell 1000 USDT at 330 VES (Mercantil), less slippage; moving the VES from Mercantil
    # to Banesco costs the transfer fee.
    ves = (Decimal(1000) * 330 * (1 - s)).quantize(STEP)
    transfer = (ves * t).quantize(STEP)
    assert (sell.leg.method, sell.price, sell.sell_amount) == ("Mercantil", 330, 1000)
    assert (sell.buy_amount, sell.fee) == (ves - transfer, transfer)
    # Buy USDT at 320 VES (Banesco) with every VES the first leg raised.
    usdt = ((ves - transfer) / 320 * (1 - s)).quantize(STEP)
    assert (buy.leg.method, buy.price, buy.sell_amount) == ("Banesco", 320, ves - transfer)
    assert buy.buy_amount == usdt
    assert result.profit_usd == usdt - 1000
    assert result.refusals == ()


def test_a_size_the_books_cannot_fill_says_so(desk, opportunity):
    result = run(desk, opportunity, "6000")  # the Mercantil bid holds 5000 USDT
    assert result.profit_usd is None and not result.complete
    assert len(result.fills) == 1 and not result.fills[0].complete
    assert "books cannot fill this size any more" in result.refusals


def test_the_kill_switch_and_stale_books_are_named(desk, opportunity):
    with desk.sessions.begin() as session:
        controls.change(session, "kill_switch", "true", actor="t", now=desk.now())
    later = desk.now() + timedelta(seconds=desk.settings.stale_after_seconds + 1)
    result = run(desk, opportunity, "1000", now=later)
    assert result.refusals[0] == "kill switch is on"
    assert "stale prices: p2p:USDT/VES" in result.refusals
    assert result.profit_usd is None  # a stale book prices nothing
