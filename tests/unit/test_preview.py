"""The execute dialog's numbers: every leg at the size the trader types, priced the way
the executor fills it, and the executor's reasons to refuse."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from backend.trading import controls, executor
from backend.trading.preview import preview


def run(desk, opportunity, size, now=None):
    with desk.sessions() as session:
        return preview(
            session, desk.cache, desk.settings, opportunity.legs, Decimal(size), now or desk.now()
        )


def test_each_leg_is_filled_at_the_typed_size_as_the_venue_settles_it(desk, opportunity):
    result = run(desk, opportunity, "1000")
    sell, buy = result.fills
    # Sell 1000 USDT at 330 VES (Mercantil): 330,000 VES less 0.05 % slippage, in cents
    # down = 329,835.00; moving it from Mercantil to Banesco costs 0.05 %, in cents up.
    assert (sell.leg.method, sell.price, sell.sell_amount) == ("Mercantil", 330, 1000)
    assert (sell.fee, sell.buy_amount) == (Decimal("164.92"), Decimal("329670.08"))
    # Buy at 320 VES (Banesco) with all of it: 1,030.21 USDT in whole cents (so 320.0028
    # VES each); less slippage, in cents down: 1,029.69 USDT.
    assert buy.leg.method == "Banesco" and buy.sell_amount == Decimal("329670.08")
    assert buy.price == Decimal("329670.08") / Decimal("1030.21")
    assert buy.buy_amount == Decimal("1029.69")
    assert result.profit_usd == Decimal("29.69")
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


def test_a_house_account_short_of_what_the_trade_pays_is_named(desk, opportunity):
    from backend.trading import balances, ledger

    with desk.sessions.begin() as session:
        held = ledger.house_balances(session).get("binance:USDT", Decimal(0))
        assert held > 100  # the demo's paper balances
        # leave 100 USDT in the wallet the first leg sells from
        balances.move(session, "withdraw", "binance:USDT", str(held - 100), actor="t",
                      reason="test", now=desk.now())  # fmt: skip
    result = run(desk, opportunity, "1000")
    assert result.complete  # the books fill it; the house cannot pay for it
    assert any(
        r.startswith("insufficient balance: binance:USDT holds 100") for r in result.refusals
    )


def test_the_kill_switch_alone_is_named_though_the_books_and_balances_allow_the_trade(
    desk, opportunity
):
    with desk.sessions.begin() as session:
        controls.change(session, "kill_switch", "true", actor="t", now=desk.now())
    result = run(desk, opportunity, "1000")
    assert (result.profit_usd, result.refusals) == (Decimal("29.69"), ("kill switch is on",))


def test_a_last_leg_the_books_cannot_fill_prices_nothing(desk, opportunity):
    # 4900 USDT sold at 330 buys back ~5048 USDT: more than the 5000 of asks at 320
    result = run(desk, opportunity, "4900")
    assert len(result.fills) == 2 and result.fills[0].complete
    assert not result.fills[1].complete and result.profit_usd is None
    assert "books cannot fill this size any more" in result.refusals


def test_a_leg_on_a_market_with_no_book_prices_nothing(desk, opportunity):
    legs = [opportunity.legs[0], {**opportunity.legs[1], "market": "p2p:USDT/COP"}]
    with desk.sessions() as session:
        result = preview(session, desk.cache, desk.settings, legs, Decimal("1000"), desk.now())
    assert result.fills == () and result.profit_usd is None
    assert "books cannot fill this size any more" in result.refusals


def test_what_earlier_fills_took_is_not_offered_again(client, desk, opportunity):
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": "2500"},
        headers={"Idempotency-Key": "took"},
    )
    assert executor.execute(desk.sessions, desk.cache, desk.settings, r.json["id"], desk.now)
    # the fill took 2575.54 of the 5000 USDT of asks: 2500 no longer fits, 1000 does
    assert run(desk, opportunity, "2500").profit_usd is None
    assert run(desk, opportunity, "1000").profit_usd == Decimal("29.69")
