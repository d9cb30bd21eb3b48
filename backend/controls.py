"""Desk controls every process obeys (kill switch, thresholds), held in the settings table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.models import Setting, utcnow


@dataclass(frozen=True)
class Controls:
    kill_switch: bool
    min_profit_usd: Decimal
    max_trade_usd: Decimal


def defaults(settings: Settings) -> dict[str, str]:
    return {
        "kill_switch": "false",
        "min_profit_usd": str(settings.min_profit_usd),
        "max_trade_usd": str(settings.max_trade_usd),
    }


def load(session: Session, settings: Settings) -> Controls:
    values = defaults(settings)
    values.update(session.execute(select(Setting.key, Setting.value)).all())
    return Controls(
        kill_switch=values["kill_switch"].lower() == "true",
        min_profit_usd=Decimal(values["min_profit_usd"]),
        max_trade_usd=Decimal(values["max_trade_usd"]),
    )


def set_value(session: Session, key: str, value: str) -> None:
    if key not in ("kill_switch", "min_profit_usd", "max_trade_usd", "worker_heartbeat"):
        raise ValueError(f"unknown control {key!r}")
    session.merge(Setting(key=key, value=value, updated_at=utcnow()))


def seed(session: Session, settings: Settings) -> None:
    """Insert defaults that are missing; never overwrite an operator's choice."""
    present = set(session.scalars(select(Setting.key)))
    for key, value in defaults(settings).items():
        if key not in present:
            session.add(Setting(key=key, value=value))
