"""Properties of fills and their postings, over generated books, fees, slippage and sizes
(hypothesis): every fill's entry balances in each currency, and a trade's profit is its
legs' cash flows and the house's net in the anchor, whatever the cycle's shape."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from backend.trading import ledger
from backend.trading.execution import ANCHOR, Fees, Leg, cash_flows, profit_usd, run_cycle
from tests.factories import ad, book

D = Decimal
rates = st.decimals(min_value="0", max_value="0.01", places=4)
sizes = st.decimals(min_value="10", max_value="20000", places=2)


def levels(low: str, high: str, qty_max: str):
    return st.lists(
        st.tuples(
            st.decimals(min_value=low, max_value=high, places=2),
            st.decimals(min_value="1", max_value=qty_max, places=2),
            st.decimals(min_value="0", max_value="200000", places=2),
        ),
        min_size=1,
        max_size=5,
    )


def ads_of(levels, methods, prefix):
    return [
        ad(price, qty, min_amount=low, methods=methods, ad_no=f"{prefix}{i}")
        for i, (price, qty, low) in enumerate(levels)
    ]


@st.composite
def cycles(draw):
    """A crossed VES book across two banks, or a triangle through BTC on spot."""
    if draw(st.booleans()):
        books = {
            "p2p:USDT/VES": book(
                "p2p:USDT/VES",
                asks=ads_of(draw(levels("300", "340", "8000")), ("Banesco",), "a"),
                bids=ads_of(draw(levels("300", "340", "8000")), ("Mercantil",), "b"),
            )
        }
        legs = (
            Leg("p2p:USDT/VES", "SELL", "Mercantil", "USDT", "VES"),
            Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT"),
        )
    else:
        books = {
            "p2p:USDT/VES": book(
                "p2p:USDT/VES", bids=ads_of(draw(levels("300", "340", "8000")), ("Banesco",), "b")
            ),
            "p2p:BTC/VES": book(
                "p2p:BTC/VES",
                asks=ads_of(draw(levels("28000000", "32000000", "2")), ("Banesco",), "x"),
            ),
            "spot:BTC/USDT": book(
                "spot:BTC/USDT", bids=ads_of(draw(levels("90000", "100000", "5")), (), "s")
            ),
        }
        legs = (
            Leg("p2p:USDT/VES", "SELL", "Banesco", "USDT", "VES"),
            Leg("p2p:BTC/VES", "BUY", "Banesco", "VES", "BTC"),
            Leg("spot:BTC/USDT", "SELL", None, "BTC", "USDT"),
        )
    return books, legs


@settings(max_examples=300, deadline=None)
@given(cycles(), sizes, rates, rates, rates, rates)
def test_every_fill_balances_and_profit_is_the_legs_cash_flows(
    cycle, size, p2p_fee, spot_fee, transfer_fee, slippage
):
    books, legs = cycle
    fills = run_cycle(legs, books, size, Fees(p2p_fee, spot_fee, transfer_fee), slippage)
    if len(fills) != len(legs) or not fills[-1].complete:
        event("unfillable")
        return  # the executor refuses it: nothing is posted
    event(f"filled {len(legs)} legs")
    lines = ledger.fill_lines(fills)
    assert ledger.imbalances(lines) == {}
    profit = profit_usd(fills)
    assert profit == cash_flows(fills)[ANCHOR]
    assert ledger.house_flows(lines)[ANCHOR] == profit
    for f, nxt in itertools.pairwise(fills):
        assert nxt.sell_amount <= f.buy_amount  # a leg never spends more than it was given
        assert f.fee >= 0 and f.transfer >= 0
