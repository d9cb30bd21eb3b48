"""What the house holds, and the admin moves of money in and out (each with who and why).

Balances are the ledger's sums; a deposit, withdrawal or adjustment is a journal entry
against the owners' equity, never an edited number.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.models import JournalEntry
from backend.trading import accounts, ledger, reasons


class Refused(ValueError):
    """A well-formed move the ledger refuses: more than the account holds, or a transfer
    between accounts that cannot exchange money."""


AMOUNT = re.compile(r"-?\d{1,12}(\.\d{1,18})?", re.ASCII)  # "٥٠٠" is not 500 here
KINDS = ("deposit", "withdraw", "adjust")


def parse_amount(raw: str, kind: str) -> Decimal:
    text = str(raw).strip()
    if not AMOUNT.fullmatch(text):
        raise ValueError(f"amount {text[:30]!r} is not a plain number like 1000 or 250.75")
    amount = Decimal(text)
    if kind != "adjust" and amount <= 0:
        raise ValueError(f"a {kind} takes an amount above zero")
    if amount == 0:
        raise ValueError("an adjustment of zero changes nothing")
    return amount


def move(
    session: Session, kind: str, account: str, raw_amount: str, *, actor: str, reason: str,
    now: datetime,
) -> JournalEntry:  # fmt: skip
    """Deposit, withdraw or adjust (signed) ``account``; ValueError says what is wrong and
    nothing is written. A withdrawal or negative adjustment never overdraws the account."""
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not one of {', '.join(KINDS)}")
    accounts.parse_house(account)
    amount = parse_amount(raw_amount, kind)
    why = reasons.clean(reason)
    delta = amount.copy_negate() if kind == "withdraw" else amount  # exact: no rounding
    if delta < 0:
        ledger.lock(session, {account})
        held = ledger.balances(session, {account}).get(account, Decimal("0"))
        if held < delta.copy_negate():
            raise Refused(
                f"{account} holds {ledger.plain(held)}; cannot take out {delta.copy_negate()}"
            )
    return ledger.post(
        session, kind, ledger.deposit_lines(account, delta), actor=actor, now=now,
        reason=why,
    )  # fmt: skip


def transfer(
    session: Session, src: str, dst: str, raw_amount: str, *, actor: str, reason: str,
    now: datetime,
) -> JournalEntry:  # fmt: skip
    """Move money between two house accounts of one currency (the funding and spot
    wallets, two banks): the admin's rebalancing, recorded with who and why."""
    accounts.parse_house(src)
    accounts.parse_house(dst)
    if accounts.currency_of(src) != accounts.currency_of(dst) or src == dst:
        raise Refused("a transfer goes between two different accounts of one currency")
    amount = parse_amount(raw_amount, "transfer")
    why = reasons.clean(reason)
    ledger.lock(session, {src})
    held = ledger.balances(session, {src}).get(src, Decimal("0"))
    if held < amount:
        raise Refused(f"{src} holds {ledger.plain(held)}; cannot take out {amount}")
    lines = [ledger.Line(src, amount.copy_negate()), ledger.Line(dst, amount)]
    return ledger.post(session, "transfer", lines, actor=actor, now=now, reason=why)


def show(session: Session) -> list[dict]:
    """The house's accounts and their balances, as the API and the CLI show them."""
    return [
        {"account": name, "currency": accounts.currency_of(name), "balance": amount}
        for name, amount in ledger.house_balances(session).items()
    ]
