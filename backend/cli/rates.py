"""``rates``: the corridor board the house quotes its clients from."""

from __future__ import annotations

import json
from decimal import Decimal

import click
from flask.cli import AppGroup

from backend.desk import current_desk
from backend.market import rates

rates_cli = AppGroup(
    "rates", help="Corridor rates (set a margin: controls set corridor_margin:COP->VES 0.03)."
)


@rates_cli.command("show")
@click.option(
    "--size", type=Decimal, default=None, help="Ticket in USD; the default ticket otherwise."
)
@click.option("--json", "as_json", is_flag=True)
def rates_show(size: Decimal | None, as_json: bool) -> None:
    """Implied and client rate per corridor, with the age of the books behind them."""
    desk = current_desk()
    if size is not None and (not size.is_finite() or size <= 0):
        raise click.BadParameter("must be a positive number of USD", param_hint="--size")
    with desk.sessions() as session:
        board = rates.board(
            session, desk.cache, desk.settings, desk.now(), size or desk.settings.default_ticket_usd
        )
    if as_json:
        click.echo(json.dumps({"rates": [rates.as_json(r) for r in board]}))
        return
    for r in board:
        age = "—" if r.age_seconds is None else f"{r.age_seconds:.0f} s"
        implied, client = r.implied_rate or "—", r.client_rate or "—"
        stale = f"  STALE {r.reason or ''}" if r.stale else ""
        click.echo(
            f"{r.corridor.name:<9} implied {implied:>16}  client {client:>16}"
            f"  margin {r.margin:<6} age {age:>6}{stale}"
        )
