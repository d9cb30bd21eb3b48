"""Opportunities: cycles net of fees, sized to the books; Execute asks first, then queues."""

from __future__ import annotations

import uuid

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import current_app

from backend.desk import current_desk
from backend.trading import opportunities, outbox, trades
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
            ),
        ]
        for row in rows
    ]
    return table(
        ["#", "Strategy", "Legs", "Size USD", "Profit USD", "bps", ""],
        body,
        ["opp-row"] * len(rows),
        table_id="opps-grid",
    )


def register_callbacks(app: Dash) -> None:
    @app.callback(Output("opps-table", "children"), Input("opps-tick", "n_intervals"))
    def refresh(_n):
        return render()

    @app.callback(
        Output("execute-confirm", "displayed"),
        Output("execute-confirm", "message"),
        Output("execute-pending", "data"),
        Input({"type": "execute", "opportunity": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def ask(_clicks):
        trigger = ctx.triggered_id
        if not trigger or not ctx.triggered[0]["value"]:
            return no_update, no_update, no_update  # a refresh re-rendered the buttons
        opp_id = trigger["opportunity"]
        # The key is minted when the trader asks, so a double confirm stays one trade.
        pending = {"opportunity_id": opp_id, "key": str(uuid.uuid4())}
        return True, f"Execute opportunity #{opp_id} in paper mode?", pending

    @app.callback(
        Output("execute-result", "children"),
        Input("execute-confirm", "submit_n_clicks"),
        State("execute-pending", "data"),
        prevent_initial_call=True,
    )
    def execute(_submitted, pending):
        if not pending:
            return no_update
        desk = current_desk()
        try:
            with desk.sessions.begin() as session:
                trade, created = trades.request_trade(
                    session,
                    opportunity_id=pending["opportunity_id"],
                    size=None,
                    key=pending["key"],
                    user="desk",
                    now=desk.now(),
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
