"""Operator tickets awaiting confirmation, pinned above the Trades grid: what to do on
Binance P2P (the ads to take, how much to pay or release), and the form to confirm what
really happened (amounts, fee, the order's reference) or to cancel with a reason."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import current_app
from flask_login import current_user

from backend.desk import current_desk
from backend.trading import outbox, tickets
from backend.trading.quotes import fees_from
from backend.web.access import TRADER, VIEWER, allowed
from backend.web.auth import current_actor
from dashboard.access import BadInput, callback, expect, expect_id
from dashboard.components.format import amount, market_price, seconds
from dashboard.i18n import _


def panel() -> html.Div:
    return html.Div(
        [
            dcc.Store(id="tickets-shown", data=[]),
            html.Div(id="tickets-result", role="status"),
            html.Div(id="tickets-panel"),
        ]
    )


def _field(kind: str, ticket_id: int, placeholder: str) -> dbc.Input:
    return dbc.Input(
        id={"type": kind, "ticket": ticket_id},
        placeholder=placeholder,
        size="sm",
        maxLength=100,
        className="mb-1",
    )


def _what(step: dict, currency: str) -> str:
    """BUY legs pay fiat to the advertiser; SELL legs release the asset to them."""
    if "pay" in step:
        return _("pay %(x)s", x=amount(step["pay"], currency))
    return _("release %(x)s", x=amount(step["release"], currency))


def _title(t, place: tuple[int, int] | None) -> str:
    title = _(
        "Ticket %(id)s · trade #%(trade)s · %(side)s %(market)s",
        id=t.id,
        trade=t.trade_id,
        side=t.side,
        market=t.market,
    )
    if place is None:
        return title
    k, n = place
    return " · ".join([title, _("unwind leg %(k)s of %(n)s", k=k, n=n)])


def ticket_card(t, now, may_confirm: bool, place: tuple[int, int] | None) -> dbc.Card:
    """``place``: (k, N) when the ticket is reverse leg k of its trade's unwind of N."""
    steps = [
        html.Li(
            _(
                "Ad %(ad)s of %(who)s at %(price)s: %(what)s, via %(method)s",
                ad=step["ad_no"],
                who=step["advertiser"],
                price=market_price(step["price"], t.market),
                what=_what(step, t.sell_currency),
                method=step["method"],
            )
        )
        for step in t.instructions
    ]
    form = (
        html.Div(
            [
                _field("ticket-sold", t.id, _("Sold (%(c)s)", c=t.sell_currency)),
                _field("ticket-bought", t.id, _("Received, net (%(c)s)", c=t.buy_currency)),
                _field("ticket-fee", t.id, _("Fee (%(c)s), 0 if none", c=t.buy_currency)),
                _field("ticket-reference", t.id, _("Binance order number")),
                dbc.Button(
                    _("Confirm"),
                    id={"type": "ticket-confirm", "ticket": t.id},
                    color="success",
                    size="sm",
                    className="me-2",
                ),
                _field("ticket-reason", t.id, _("Why cancel")),
                dbc.Button(
                    _("Cancel this leg"),
                    id={"type": "ticket-cancel", "ticket": t.id},
                    color="danger",
                    size="sm",
                    outline=True,
                ),
            ]
        )
        if may_confirm
        else html.P(_("A trader confirms this ticket."), className="hint")
    )
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2(_title(t, place)),
                html.P(
                    _(
                        "Sell %(sell)s, expect %(buy)s · waiting %(age)s",
                        sell=amount(t.planned_sell, t.sell_currency),
                        buy=amount(t.planned_buy, t.buy_currency),
                        age=seconds((now - t.created_at).total_seconds()),
                    )
                ),
                html.Ol(steps),
                form,
            ]
        ),
        className="ticket mb-2",
        id=f"ticket-{t.id}",
    )


def render(force: bool, shown: list) -> tuple:
    desk = current_desk()
    with desk.sessions() as session:
        rows = tickets.listing(session, tickets.OPEN)
        ids = [t.id for t in rows]
        if not force and ids == shown:
            return no_update, no_update  # keep what the operator is typing
        if not rows:
            return None, ids
        may = allowed(current_user.role, TRADER)
        places = tickets.unwind_places(session, rows)
        cards = [ticket_card(t, desk.now(), may, places.get(t.id)) for t in rows]
    title = html.H2(_("Operator tickets awaiting confirmation (%(n)s)", n=len(ids)))
    return html.Div([title, *cards], id="tickets-open"), ids


def _pick(states: list, ticket_id: int) -> str | None:
    """The value of one ticket's field among every ticket's (a pattern State's entries)."""
    for entry in expect(states, list, name="ticket fields"):
        if isinstance(entry, dict) and (entry.get("id") or {}).get("ticket") == ticket_id:
            return expect(entry.get("value"), str, type(None), name="ticket field")
    return None


def register_callbacks(app: Dash) -> None:
    @callback(
        app,
        Output("tickets-panel", "children"),
        Output("tickets-shown", "data"),
        Input("trades-push", "data"),
        Input("trades-tick", "n_intervals"),
        State("tickets-shown", "data"),
        role=VIEWER,
    )
    def refresh(_pushed, _n, shown):
        return render(False, expect(shown or [], list, name="shown"))

    @callback(
        app,
        Output("tickets-result", "children"),
        Output("tickets-panel", "children", allow_duplicate=True),
        Output("tickets-shown", "data", allow_duplicate=True),
        Input({"type": "ticket-confirm", "ticket": ALL}, "n_clicks"),
        Input({"type": "ticket-cancel", "ticket": ALL}, "n_clicks"),
        State({"type": "ticket-sold", "ticket": ALL}, "value"),
        State({"type": "ticket-bought", "ticket": ALL}, "value"),
        State({"type": "ticket-fee", "ticket": ALL}, "value"),
        State({"type": "ticket-reference", "ticket": ALL}, "value"),
        State({"type": "ticket-reason", "ticket": ALL}, "value"),
        prevent_initial_call=True,
        role=TRADER,
    )
    def act(confirms, cancels, _sold, _bought, _fee, _reference, _reason):
        """Confirm what was done on Binance (the trade goes on to its next leg), or cancel."""
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict):
            raise BadInput("only a ticket's buttons confirm or cancel it")
        ticket_id, states = expect_id(trigger.get("ticket"), "ticket"), ctx.states_list
        if not any(v for v in (confirms or []) + (cancels or []) if isinstance(v, int)):
            return no_update, no_update, no_update
        desk = current_desk()
        try:
            with desk.sessions.begin() as session:
                if trigger["type"] == "ticket-confirm":
                    ticket = tickets.confirm(
                        session,
                        ticket_id,
                        sold=_pick(states[0], ticket_id),
                        bought=_pick(states[1], ticket_id),
                        fee=_pick(states[2], ticket_id) or "0",
                        reference=_pick(states[3], ticket_id),
                        actor=current_actor(),
                        now=desk.now(),
                        fees=fees_from(desk.settings),
                    )
                    said = _("Ticket %(id)s confirmed; the trade goes on.", id=ticket_id)
                else:
                    ticket = tickets.cancel(
                        session,
                        ticket_id,
                        reason=_pick(states[4], ticket_id),
                        actor=current_actor(),
                        now=desk.now(),
                    )
                    said = _("Ticket %(id)s cancelled.", id=ticket_id)
                trade_id, requeue = ticket.trade_id, tickets.requeues(session, ticket)
        except tickets.TicketError as exc:
            return dbc.Alert(exc.message, color="warning"), no_update, no_update
        if requeue:
            outbox.publish(current_app.extensions["celery"], desk, trade_id)
        panel_children, ids = render(True, [])
        return dbc.Alert(said, color="success", id="tickets-done"), panel_children, ids
