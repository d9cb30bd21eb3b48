"""What a fresh desk needs: its markets, the controls' defaults, paper balances, and on
the embedded demo a first admin so a newcomer can log in."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.config import Settings
from backend.market.book import Market
from backend.models import Balance, MarketRow
from backend.trading import controls
from backend.web import users

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


def demo_admin(session: Session, settings: Settings, now: datetime) -> str | None:
    """On the embedded demo with no admin: create ``admin`` with a random password and
    return it (to be shown once). Elsewhere, or when an admin exists, None."""
    if not settings.embedded or users.admins_exist(session):
        return None
    if users.find(session, "admin") is not None:
        return None  # someone demoted or disabled it on purpose
    password = secrets.token_urlsafe(12)
    users.create(session, "admin", "admin", password, actor="db seed", now=now)
    return password
