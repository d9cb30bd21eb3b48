"""Paper legs: filled on the latest books with the book walk, fees and slippage."""

from __future__ import annotations

from decimal import Decimal

from backend.market.book import Book
from backend.trading.execution import Fees, LegFill, fill_leg
from backend.trading.venues import LegOrder


class PaperVenue:
    mode = "paper"

    def __init__(self, books: dict[str, Book], fees: Fees, slippage: Decimal) -> None:
        self.books, self.fees, self.slippage = books, fees, slippage

    def fill(self, order: LegOrder) -> LegFill:
        leg = order.leg
        return fill_leg(
            leg, self.books[leg.market], order.amount, self.fees.taker(leg), self.slippage
        )
