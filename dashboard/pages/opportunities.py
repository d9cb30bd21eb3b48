"""Opportunities: cycles net of fees, sized to the books; Execute asks first, then queues."""

from __future__ import annotations

import uuid

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import current_app
from flask_login import current_user

from backend.desk import current_desk
from backend.trading import opportunities, outbox, trades
from backend.web.access import TRADER, VIEWER, allowed
from backend.web.auth import current_actor
from backend.web.security import trade_wait_seconds
from dashboard.access import BadInput, callback, expect
from dashboard.components.format import number
from dashboard.components.table import table

PATH = "/opportunities"
NAME = "Opportunities"

STRATEGY_NAMES = {"crossed_book": "Crossed book", "spot_p2p": "Spot vs P2P", "triangle": "Triangle"}


def layout(**_):
    return html.Div(
        [
            html.H1("Opportunities"),
            html.P(
                "Each row is a closed cycle from USDT back to USDT, priced by walking every "
                "leg's book at the size shown, after taker and transfer fees.",
                className="hint",
            ),
            dcc.Interval(id="opps-tick", interval=2000),
            dcc.Store(id="execute-pending"),
            dcc.ConfirmDialog(id="execute-confirm"),
            html.Div(id="execute-result", role="status"),
            html.Div(id="opps-table", children=html.P("Scanning…")),
        ]
    )


def describe(legs: list[dict]) -> str:
    return " → ".join(
        f"{leg['side']} {leg['market'].split(':', 1)[1]}"
        + (" spot" if leg["market"].startswith("spot:") else "")
        + (f" ({leg['method']})" if leg.get("method") else "")
        for leg in legs
    )


def render():
    desk = current_desk()
    with desk.sessions() as session:
        rows = opportunities.list_active(session, desk.now())
    if not rows:
        return html.P("No opportunity clears the minimum profit right now.", id="opps-empty")
    may_trade = allowed(current_user.role, TRADER)
    why_not = (
        None if may_trade else f"Executing needs the trader role; you are {current_user.role}."
    )
    body = [
        [
            f"#{row.id}",
            STRATEGY_NAMES.get(row.strategy, row.strategy),
            describe(row.legs),
            number(row.size_usd, 0),
            number(row.profit_usd, 2),
            number(row.profit_bps, 1),
            html.Button(
                "Execute",
                id={"type": "execute", "opportunity": row.id},
                className="execute",
                n_clicks=0,
                disabled=not may_trade,
                title=why_not or f"Execute #{row.id} in paper mode",
            ),
        ]
        for row in rows
    ]
    grid = table(
        ["#", "Strategy", "Legs", "Size USD", "Profit USD", "bps", ""],
        body,
        ["opp-row"] * len(rows),
        table_id="opps-grid",
    )
    if why_not:
        return html.Div([html.P(why_not, className="alert note", id="execute-why-not"), grid])
    return grid


def register_callbacks(app: Dash) -> None:
    @callback(app, Output("opps-table", "children"), Input("opps-tick", "n_intervals"), role=VIEWER)
    def refresh(_n):
        return render()

    @callback(
        app,
        Output("execute-confirm", "displayed"),
        Output("execute-confirm", "message"),
        Output("execute-pending", "data"),
        Input({"type": "execute", "opportunity": ALL}, "n_clicks"),
        prevent_initial_call=True,
        role=TRADER,
    )
    def ask(_clicks):
        trigger = ctx.triggered_id
        if not trigger or not ctx.triggered[0]["value"]:
            return no_update, no_update, no_update  # a refresh re-rendered the buttons
        opp_id = expect(trigger.get("opportunity"), int, name="opportunity")
        # The key is minted when the trader asks, so a double confirm stays one trade.
        pending = {"opportunity_id": opp_id, "key": str(uuid.uuid4())}
        return True, f"Execute opportunity #{opp_id} in paper mode?", pending

    @callback(
        app,
        Output("execute-result", "children"),
        Input("execute-confirm", "submit_n_clicks"),
        State("execute-pending", "data"),
        prevent_initial_call=True,
        role=TRADER,
    )
    def execute(_submitted, pending):
        if not pending:
            return no_update
        expect(pending, dict, name="pending trade")
        if set(pending) != {"opportunity_id", "key"}:
            raise BadInput("pending trade has unexpected fields")
        desk = current_desk()
        wait = trade_wait_seconds(current_actor(), desk.settings.trade_rate_limit)
        if wait:
            return html.Div(
                f"Too many trade requests; try again in {wait} s.", className="alert error"
            )
        try:
            with desk.sessions.begin() as session:
                trade, created = trades.request_trade(
                    session,
                    opportunity_id=pending["opportunity_id"],
                    size=None,
                    key=pending["key"],
                    user=current_actor(),
                    now=desk.now(),
                    min_size=desk.settings.min_ticket_usd,
                )
                trade_id = trade.id
        except trades.TradeRequestError as exc:
            return html.Div(exc.message, className="alert error")
        if created:
            outbox.publish(current_app.extensions["celery"], desk, trade_id)
        return html.Div(
            [
                "Trade ",
                dcc.Link(f"#{trade_id}", href="/trades"),
                " requested; follow it on the Trades page.",
            ],
            className="alert ok",
            id="execute-ok",
        )
