"""House balances on the dashboards: each account's ledger sum next to its floor."""

from __future__ import annotations

from celery import shared_task

from backend.desk import current_desk
from backend.ops import metrics
from backend.trading import accounts, controls, ledger
from tasks.celery_app import DB_RETRY


@shared_task(name="tasks.balances.watch", **DB_RETRY)
def watch() -> list[str]:
    """Set the gauges the HouseAccountBelowFloor alert reads; returns the accounts below."""
    desk = current_desk()
    with desk.sessions() as session:
        held = ledger.house_balances(session)
        limits = controls.load(session, desk.settings)
    below = []
    for account, amount in held.items():
        labels = {"account": account, "currency": accounts.currency_of(account)}
        metrics.ACCOUNT_BALANCE.labels(**labels).set(float(amount))
        metrics.ACCOUNT_FLOOR.labels(**labels).set(float(limits.floor(account)))
        if amount < limits.floor(account):
            below.append(account)
    return below
