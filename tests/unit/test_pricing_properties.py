"""Properties of the book walk, over generated books (hypothesis).

Monotonicity in size holds only when no ad has a minimum per order: with minimums a small
ticket must skip a cheap ad that a bigger ticket can take, so the bigger ticket may get a
*better* price (see ``test_minimums_can_make_a_bigger_ticket_cheaper``). That is the walk
being honest, not a bug; the other properties hold with minimums.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.market.book import Ad
from backend.market.pricing import walk, walk_amount

# Caps (max_amount / price) are divisions rounded at 28 significant digits, and
# Fill.quantity is ``requested - remaining``: when a big request fills a tiny amount that
# subtraction cancels most digits (1000.01 - 999.99997... keeps ~20 of the 28). So
# comparisons allow a relative 1e-15, a millionth of a millionth of a cent on any price.
RELATIVE = Decimal("1e-15")


def close_le(a: Decimal, b: Decimal) -> bool:
    """a <= b, up to Decimal rounding."""
    return a <= b + RELATIVE * max(abs(a), abs(b), Decimal(1))


prices = st.decimals(min_value="0.01", max_value="100000", places=2)
quantities = st.decimals(min_value="0.01", max_value="5000", places=2)
sizes = st.decimals(min_value="0.01", max_value="20000", places=2)


@st.composite
def ads(draw, with_minimums: bool = True) -> Ad:
    price = draw(prices)
    quantity = draw(quantities)
    max_amount = draw(st.none() | st.decimals(min_value="1", max_value="1000000", places=2))
    min_amount = Decimal("0")
    if with_minimums:
        ceiling = max_amount if max_amount is not None else price * quantity
        min_amount = draw(st.decimals(min_value="0", max_value=ceiling, places=2))
    return Ad(
        ad_no=f"ad{draw(st.integers(0, 10**9))}",
        price=price,
        quantity=quantity,
        min_amount=min_amount,
        max_amount=max_amount,
    )


def book_side(side: str, with_minimums: bool = True):
    """Ads as a taker walks them: asks ascending (BUY), bids descending (SELL)."""
    return st.lists(ads(with_minimums), min_size=1, max_size=12, unique_by=lambda a: a.ad_no).map(
        lambda xs: tuple(sorted(xs, key=lambda a: a.price, reverse=side == "SELL"))
    )


def worse_or_equal(side: str, a: Decimal, b: Decimal) -> bool:
    """Is ``a`` no better than ``b`` for the taker (a buyer pays more, a seller gets less)?"""
    return close_le(b, a) if side == "BUY" else close_le(a, b)


@given(
    st.sampled_from(["BUY", "SELL"]).flatmap(
        lambda side: st.tuples(st.just(side), book_side(side), sizes)
    )
)
def test_effective_price_is_never_better_than_the_best_price(case):
    side, book, size = case
    fill = walk(book, size)
    if fill.price is not None:
        assert worse_or_equal(side, fill.price, book[0].price)
        assert all(worse_or_equal(side, price, book[0].price) for _, price, _ in fill.takes)


@settings(max_examples=200)
@given(
    st.sampled_from(["BUY", "SELL"]).flatmap(
        lambda side: st.tuples(st.just(side), book_side(side, with_minimums=False), sizes, sizes)
    )
)
def test_effective_price_worsens_or_stays_as_size_grows(case):
    side, book, a, b = case
    small, large = walk(book, min(a, b)), walk(book, max(a, b))
    assert small.price is not None and large.price is not None
    assert worse_or_equal(side, large.price, small.price)
    assert close_le(small.quantity, large.quantity)


@given(book_side("BUY"), sizes)
def test_walk_respects_every_ad_limit(book, size):
    fill = walk(book, size)
    by_no = {ad.ad_no: ad for ad in book}
    for ad_no, price, taken in fill.takes:
        ad = by_no[ad_no]
        assert price == ad.price
        assert 0 < taken <= ad.quantity
        assert taken * price >= ad.min_amount
        if ad.max_amount is not None:
            assert close_le(taken * price, ad.max_amount)
    assert len({t[0] for t in fill.takes}) == len(fill.takes)  # one order per ad
    taken = sum((t[2] for t in fill.takes), Decimal("0"))
    assert close_le(fill.quantity, taken) and close_le(taken, fill.quantity)
    assert close_le(fill.quantity, size)
    assert fill.complete == (fill.quantity == size)


@given(book_side("BUY"), st.decimals(min_value="1", max_value="5000000", places=2))
def test_walk_amount_respects_every_ad_limit(book, amount):
    fill = walk_amount(book, amount)
    by_no = {ad.ad_no: ad for ad in book}
    for ad_no, price, taken in fill.takes:
        ad = by_no[ad_no]
        assert close_le(taken, ad.quantity)
        assert close_le(ad.min_amount, taken * price)
        if ad.max_amount is not None:
            assert close_le(taken * price, ad.max_amount)
    assert fill.amount <= amount
    if fill.price is not None:
        assert close_le(book[0].price, fill.price)


def test_minimums_can_make_a_bigger_ticket_cheaper():
    cheap_big_min = Ad("a", Decimal("10"), Decimal("100"), min_amount=Decimal("500"))
    dear_no_min = Ad("b", Decimal("11"), Decimal("100"))
    book = (cheap_big_min, dear_no_min)
    assert walk(book, Decimal("10")).price == Decimal("11")  # 100 of fiat < the min of 500
    assert walk(book, Decimal("60")).price == Decimal("10")
