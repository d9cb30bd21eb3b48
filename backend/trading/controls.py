"""Desk controls every process obeys (kill switch, thresholds), held in the settings table."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.market.rates import Corridor
from backend.models import ControlChange, Setting
from backend.trading import accounts, reasons


@dataclass(frozen=True)
class Controls:
    kill_switch: bool
    min_profit_usd: Decimal
    max_trade_usd: Decimal
    max_daily_notional_usd: Decimal
    max_daily_loss_usd: Decimal
    max_open_tickets: int
    floors: dict[str, Decimal] = field(default_factory=dict)  # account -> least it keeps

    def floor(self, account: str) -> Decimal:
        return self.floors.get(account, Decimal("0"))


def defaults(settings: Settings) -> dict[str, str]:
    return {
        "kill_switch": "false",
        "min_profit_usd": str(settings.min_profit_usd),
        "max_trade_usd": str(settings.max_trade_usd),
        "max_daily_notional_usd": str(settings.max_daily_notional_usd),
        "max_daily_loss_usd": str(settings.max_daily_loss_usd),
        "max_open_tickets": str(settings.max_open_tickets),
    }


def load(session: Session, settings: Settings) -> Controls:
    return of(settings, session.execute(select(Setting.key, Setting.value)).all())


def of(settings: Settings, stored: Iterable[tuple[str, str]]) -> Controls:
    """The controls from the settings table's (key, value) rows, defaults for the rest."""
    values = defaults(settings)
    values.update(stored)
    return Controls(
        # fail closed: anything but "false" (a value typed into the table by hand) stops trading
        kill_switch=values["kill_switch"].strip().lower() != "false",
        min_profit_usd=Decimal(values["min_profit_usd"]),
        max_trade_usd=Decimal(values["max_trade_usd"]),
        max_daily_notional_usd=Decimal(values["max_daily_notional_usd"]),
        max_daily_loss_usd=Decimal(values["max_daily_loss_usd"]),
        max_open_tickets=int(values["max_open_tickets"]),
        floors={
            k.removeprefix(FLOOR): Decimal(v) for k, v in values.items() if k.startswith(FLOOR)
        },
    )


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Decimal):
        return format(value, "f")  # as it is typed back: never 1E-18
    return str(value)


def as_strings(current: Controls) -> dict[str, str]:
    """Every control as text, floors as ``floor:<account>``: what the API shows."""
    out = {k: _text(v) for k, v in vars(current).items() if k != "floors"}
    out.update({FLOOR + account: _text(v) for account, v in sorted(current.floors.items())})
    return out


def pause(
    session: Session, on: bool, *, actor: str, now: datetime, reason: str
) -> ControlChange | None:
    """The kill switch with its reason: pause (on) or resume (off) every new trade; None
    when it was so already (nothing recorded)."""
    return change(
        session, "kill_switch", "true" if on else "false", actor=actor, now=now, reason=reason
    )


def _flag(value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise ValueError("must be true or false")
    return value.lower()


# ASCII digits, no sign, exponent or "_": Decimal() alone takes "٥٠٠", "1_000" and "1e999".
PLAIN = re.compile(r"\d{1,15}(\.\d{1,18})?", re.ASCII)  # the Amount schema
COUNT = re.compile(r"\d{1,6}", re.ASCII)


def _plain(value: str) -> Decimal:
    if not PLAIN.fullmatch(value.strip()):
        raise ValueError(f"{value[:30]!r} is not a plain number like 1000 or 0.02")
    return Decimal(value.strip())


def _amount(value: str) -> str:
    return format(_plain(value), "f")  # str() writes 0.000000000000000001 as 1E-18


def _count(value: str) -> str:
    if not COUNT.fullmatch(value.strip()):  # str.isdigit() takes "٣" and "²"
        raise ValueError("must be a whole number, zero or more, of at most 6 digits")
    return str(int(value))


def _fraction(value: str) -> str:
    fraction = _plain(value)
    if not 0 <= fraction < 1:
        raise ValueError("must be a fraction from 0 to below 1, e.g. 0.02 for 2 %")
    return format(fraction, "f")


FLAGS = {"kill_switch"}  # on/off controls; the others are amounts
VALIDATORS = {
    "kill_switch": _flag,
    "min_profit_usd": _amount,
    "max_trade_usd": _amount,
    "max_daily_notional_usd": _amount,
    "max_daily_loss_usd": _amount,
    "max_open_tickets": _count,
}
MARGIN = "corridor_margin:"  # + "COP->VES": the house's margin on that corridor's rate
FLOOR = "floor:"  # + "binance:USDT": the least that account keeps; trades never go below


def validator(key: str):
    """The check for ``key``; corridor margins are one control per corridor."""
    if key.startswith(MARGIN):
        Corridor.parse(key.removeprefix(MARGIN))
        return _fraction
    if key.startswith(FLOOR):
        accounts.parse_house(key.removeprefix(FLOOR))
        return _amount
    if key not in VALIDATORS:
        raise ValueError(
            f"unknown control {key!r}; one of: {', '.join(VALIDATORS)}, {MARGIN}COP->VES, "
            f"{FLOOR}binance:USDT"
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
    why = None if reason is None else reasons.clean(reason)
    row = session.get(Setting, key, with_for_update=True)
    old = row.value if row else None
    if old == clean:
        return None
    session.merge(Setting(key=key, value=clean, updated_at=now))
    entry = ControlChange(at=now, key=key, old_value=old, new_value=clean, actor=actor, reason=why)
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
