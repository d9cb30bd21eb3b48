"""``tickets``: the operator's side of live P2P legs (list, confirm what was done, cancel)."""

from __future__ import annotations

import getpass

import click
from flask import current_app
from flask.cli import AppGroup

from backend.desk import current_desk
from backend.trading import outbox, tickets
from backend.trading.quotes import fees_from

tickets_cli = AppGroup("tickets", help="Operator tickets for live P2P legs.")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@tickets_cli.command("list")
@click.option("--status", type=click.Choice(["open", "confirmed", "cancelled"]), default="open")
def tickets_list(status: str) -> None:
    """What to do for each ticket: the ads to take, what to pay or release."""
    desk = current_desk()
    now = desk.now()
    with desk.sessions() as session:
        rows = tickets.listing(session, status)
        for t in rows:
            click.echo(
                f"#{t.id} trade {t.trade_id} leg {t.seq} {t.side} {t.market} "
                f"{t.method or ''} pay {t.planned_sell} {t.sell_currency} for about "
                f"{t.planned_buy} {t.buy_currency}, open {(now - t.created_at).seconds} s"
            )
            for step in t.instructions:
                click.echo(
                    f"    ad {step['ad_no']} by {step['advertiser']} at {step['price']} "
                    f"({step['method']}, limits {step['min_amount']}-{step['max_amount']}): "
                    + ", ".join(
                        f"{k} {step[k]}" for k in ("pay", "release", "receive") if k in step
                    )
                )
        if not rows:
            click.echo(f"no {status} tickets")


def _settle(work) -> None:
    desk = current_desk()
    try:
        with desk.sessions.begin() as session:
            ticket = work(session, desk)
            line = f"ticket {ticket.id} {ticket.status}; trade {ticket.trade_id}"
            trade_id, requeue = ticket.trade_id, tickets.requeues(session, ticket)
    except tickets.TicketError as exc:
        raise click.ClickException(exc.message) from None
    if requeue:
        outbox.publish(current_app.extensions["celery"], desk, trade_id)
    click.echo(line)


@tickets_cli.command("confirm")
@click.argument("ticket_id", type=int)
@click.option("--sold", required=True, help="Amount of the sell currency really paid/released.")
@click.option("--bought", required=True, help="Amount of the buy currency received, net of fee.")
@click.option("--fee", default="0", show_default=True, help="Fee, in the buy currency.")
@click.option("--reference", required=True, help="The Binance order number or bank reference.")
def tickets_confirm(ticket_id: int, sold: str, bought: str, fee: str, reference: str) -> None:
    """Record what really happened; the trade goes on with its next leg."""
    _settle(
        lambda session, desk: tickets.confirm(
            session,
            ticket_id,
            sold=sold,
            bought=bought,
            fee=fee,
            reference=reference,
            actor=_actor(),
            now=desk.now(),
            fees=fees_from(desk.settings),
        )
    )


@tickets_cli.command("cancel")
@click.argument("ticket_id", type=int)
@click.option("--reason", required=True)
def tickets_cancel(ticket_id: int, reason: str) -> None:
    """Nothing was done on this leg: the trade ends cancelled, or unwinds earlier legs."""
    _settle(
        lambda session, desk: tickets.cancel(
            session, ticket_id, reason=reason, actor=_actor(), now=desk.now()
        )
    )
