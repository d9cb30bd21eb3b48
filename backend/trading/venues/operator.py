"""Live P2P legs: an operator ticket, because Binance has no API to place P2P orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.market.book import Book
from backend.trading import tickets
from backend.trading.execution import Fees
from backend.trading.venues import Awaiting, LegOrder


class OperatorVenue:
    """Opens (or finds, on a redelivery) the leg's ticket in the executor's transaction."""

    mode = "live"

    def __init__(
        self,
        session: Session,
        books: dict[str, Book],
        fees: Fees,
        now: datetime,
        max_open: int | None = None,
    ) -> None:
        self.session, self.books, self.fees, self.now = session, books, fees, now
        self.max_open = max_open

    def fill(self, order: LegOrder) -> Awaiting:
        book = self.books[order.leg.market]
        return tickets.open_ticket(self.session, order, book, self.fees, self.now, self.max_open)
