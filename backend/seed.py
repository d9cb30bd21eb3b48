"""What a fresh desk needs: its markets, the controls' defaults, paper balances."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from backend.config import Settings
from backend.market.book import Market
from backend.models import Balance, MarketRow
from backend.trading import controls

PAPER_BALANCES = {"USDT": Decimal("50000")}


def seed(session: Session, settings: Settings) -> None:
    for key in settings.markets:
        m = Market.parse(key)
        session.merge(
            MarketRow(key=key, venue=m.venue.value, asset=m.asset, fiat=m.fiat, active=True)
        )
    controls.seed(session, settings)
    for currency, amount in PAPER_BALANCES.items():
        if session.get(Balance, currency) is None:
            session.add(Balance(currency=currency, amount=amount))
