"""What a fresh desk needs: its markets, the controls' defaults, paper balances, and on
the embedded demo a first admin so a newcomer can log in."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.market.book import Market
from backend.models import JournalEntry, MarketRow
from backend.trading import controls, ledger
from backend.web import users

PAPER_BALANCES = {  # the demo's paper money: P2P pays from funding, spot from spot
    "binance:USDT": Decimal("50000"),
    "binance:spot:USDT": Decimal("50000"),
}


def seed(session: Session, settings: Settings, now: datetime, paper: bool | None = None) -> None:
    """``paper`` (default: on the embedded demo) deposits the paper balances once, on a
    ledger with no entries yet."""
    for key in settings.markets:
        m = Market.parse(key)
        session.merge(
            MarketRow(key=key, venue=m.venue.value, asset=m.asset, fiat=m.fiat, active=True)
        )
    controls.seed(session, settings)
    paper = settings.embedded if paper is None else paper
    if paper and session.scalar(select(JournalEntry.id).limit(1)) is None:
        for account, amount in PAPER_BALANCES.items():
            ledger.post(
                session,
                "deposit",
                ledger.deposit_lines(account, amount),
                actor="db seed",
                now=now,
                reason="paper balances of the embedded demo",
            )


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
