"""Desk controls every process obeys (kill switch, thresholds), held in the settings table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.market.rates import Corridor
from backend.models import ControlChange, Setting


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


def _flag(value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise ValueError("must be true or false")
    return value.lower()


def _amount(value: str) -> str:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a number of USD, zero or more")
    return str(amount)


def _fraction(value: str) -> str:
    try:
        fraction = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not fraction.is_finite() or not 0 <= fraction < 1:
        raise ValueError("must be a fraction from 0 to below 1, e.g. 0.02 for 2 %")
    return str(fraction)


FLAGS = {"kill_switch"}  # on/off controls; the others are amounts
VALIDATORS = {
    "kill_switch": _flag,
    "min_profit_usd": _amount,
    "max_trade_usd": _amount,
}
MARGIN = "corridor_margin:"  # + "COP->VES": the house's margin on that corridor's rate


def validator(key: str):
    """The check for ``key``; corridor margins are one control per corridor."""
    if key.startswith(MARGIN):
        Corridor.parse(key.removeprefix(MARGIN))
        return _fraction
    if key not in VALIDATORS:
        raise ValueError(
            f"unknown control {key!r}; one of: {', '.join(VALIDATORS)}, {MARGIN}COP->VES"
        )
    return VALIDATORS[key]


def margins(session: Session) -> dict[str, Decimal]:
    """Corridor name -> margin, for the corridors an operator has set one."""
    rows = session.execute(select(Setting.key, Setting.value).where(Setting.key.like(MARGIN + "%")))
    return {key.removeprefix(MARGIN): Decimal(value) for key, value in rows}


def change(
    session: Session, key: str, value: str, *, actor: str, now: datetime, reason: str | None = None
) -> ControlChange | None:
    """Validate, store and record who changed what and why. A bad value raises ValueError
    and changes nothing; setting the value already in force records nothing."""
    check = validator(key)
    try:
        clean = check(str(value))
    except ValueError as exc:
        raise ValueError(f"{key} {exc}") from None
    row = session.get(Setting, key, with_for_update=True)
    old = row.value if row else None
    if old == clean:
        return None
    session.merge(Setting(key=key, value=clean, updated_at=now))
    entry = ControlChange(
        at=now, key=key, old_value=old, new_value=clean, actor=actor, reason=reason or None
    )
    session.add(entry)
    return entry


def history(session: Session, limit: int = 100) -> list[ControlChange]:
    return list(
        session.scalars(select(ControlChange).order_by(ControlChange.id.desc()).limit(limit))
    )


def seed(session: Session, settings: Settings) -> None:
    """Insert defaults that are missing; never overwrite an operator's choice."""
    present = set(session.scalars(select(Setting.key)))
    for key, value in defaults(settings).items():
        if key not in present:
            session.add(Setting(key=key, value=value))
