"""``balances`` and ``ledger``: what the house holds, admin moves of money with a reason,
and the check that every trade's profit, legs and postings agree."""

from __future__ import annotations

import getpass
import sys

import click
from flask.cli import AppGroup

from backend.desk import current_desk
from backend.trading import balances, ledger, trade_days

balances_cli = AppGroup("balances", help="The house's balances: sums of the ledger.")
ledger_cli = AppGroup("ledger", help="The double-entry ledger behind the balances.")


@balances_cli.command("show")
def balances_show() -> None:
    desk = current_desk()
    with desk.sessions() as session:
        rows = balances.show(session)
    if not rows:
        click.echo("no balances yet: `balances deposit binance:USDT 10000 --reason ...`")
    for row in rows:
        amount = ledger.plain(row["balance"])
        click.echo(f"{row['account']:<32} {amount:>28} {row['currency']}")


def _mover(kind: str, help_text: str):
    @balances_cli.command(kind, help=help_text, context_settings={"ignore_unknown_options": True})
    @click.argument("account")
    @click.argument("amount")
    @click.option("--reason", required=True, help="Why; kept in the ledger with who.")
    def command(account: str, amount: str, reason: str) -> None:
        desk = current_desk()
        try:
            with desk.sessions.begin() as session:
                entry = balances.move(
                    session, kind, account, amount, actor=f"cli:{getpass.getuser()}",
                    reason=reason, now=desk.now(),
                )  # fmt: skip
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(f"{kind} {amount} {account}: entry {entry.id}")

    return command


_mover("deposit", "Money brought in, e.g. `balances deposit binance:USDT 10000 --reason ...`.")
_mover("withdraw", "Money taken out; never more than the account holds.")
_mover("adjust", "A signed correction, e.g. `balances adjust bank:Banesco:VES -12.50 ...`.")


@balances_cli.command("transfer")
@click.argument("source")
@click.argument("target")
@click.argument("amount")
@click.option("--reason", required=True, help="Why; kept in the ledger with who.")
def balances_transfer(source: str, target: str, amount: str, reason: str) -> None:
    """Move money between two house accounts of one currency, e.g.
    `balances transfer binance:spot:USDT binance:USDT 5000 --reason rebalance`."""
    desk = current_desk()
    try:
        with desk.sessions.begin() as session:
            entry = balances.transfer(
                session, source, target, amount, actor=f"cli:{getpass.getuser()}",
                reason=reason, now=desk.now(),
            )  # fmt: skip
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"transfer {amount} {source} -> {target}: entry {entry.id}")


@ledger_cli.command("check")
def ledger_check() -> None:
    """Exit 1 naming every mismatch: postings that do not balance per entry and currency,
    a trade whose profit differs from its legs' cash flows or from its postings, a day of
    the trade history's totals that differs from its trades."""
    desk = current_desk()
    with desk.sessions() as session:
        problems = ledger.check(session) + trade_days.drift(session)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo("ledger ok")
