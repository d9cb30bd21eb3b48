"""``trades``: act on a stranded trade (retry its unwind now, or close it holding)."""

from __future__ import annotations

import getpass

import click
from flask import current_app
from flask.cli import AppGroup

from backend.desk import current_desk
from backend.trading import outbox, stranded
from backend.trading.trades import TradeRequestError

trades_cli = AppGroup("trades", help="Stranded trades: retry the unwind, or close holding.")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@trades_cli.command("retry-unwind")
@click.argument("trade_id", type=int)
def trades_retry_unwind(trade_id: int) -> None:
    """Send a stranded trade back to the worker now."""
    desk = current_desk()
    try:
        with desk.sessions.begin() as session:
            stranded.retry(session, trade_id, actor=_actor(), now=desk.now())
    except TradeRequestError as exc:
        raise click.ClickException(exc.message) from None
    if not outbox.send(current_app.extensions["celery"], trade_id):
        raise click.ClickException(
            f"the trading queue would not take trade {trade_id}; the sweeper tries again "
            "within 5 minutes"
        )
    click.echo(f"trade {trade_id}: unwind sent to the worker")


@trades_cli.command("close")
@click.argument("trade_id", type=int)
@click.option("--reason", required=True, help="Why the desk keeps what the legs bought.")
def trades_close(trade_id: int, reason: str) -> None:
    """Close a stranded trade: the desk keeps what its legs bought."""
    desk = current_desk()
    try:
        profit = stranded.close_now(
            desk.sessions, trade_id, reason=reason, actor=_actor(), now=desk.now()
        )
    except TradeRequestError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"trade {trade_id} closed, profit {profit:.2f} USD")
