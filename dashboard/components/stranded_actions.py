"""A stranded trade's buttons in the Trades page's detail: a trader retries its unwind
now, an admin closes it holding what its legs bought (a reason asked in a dialog).

Both call ``backend.trading.stranded`` as the API and the CLI do; the callbacks carry
their role (the guard refuses anyone else before they run). A user without the role
sees the button disabled and why, with an id no callback listens to.
"""

from __future__ import annotations

from collections.abc import Callable

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import current_app

from backend.desk import current_desk
from backend.models import Trade
from backend.trading import outbox, reasons, stranded, trades
from backend.trading.trades import TradeRequestError
from backend.trading.unwind import STRANDED
from backend.web.access import ADMIN, TRADER, allowed
from backend.web.auth import current_actor
from dashboard.access import BadInput, callback, expect
from dashboard.components.format import usd
from dashboard.i18n import _, role_name


def why_not_retry(role: str) -> str | None:
    if not allowed(role, TRADER):
        return _(
            "Retrying the unwind needs the trader role; your role is %(role)s.",
            role=role_name(role),
        )
    return None


def why_not_close(role: str) -> str | None:
    if not allowed(role, ADMIN):
        return _(
            "Closing holding needs the admin role; your role is %(role)s.", role=role_name(role)
        )
    return None


def _button(label: str, kind: str, trade_id: int, why_not: str | None, color: str):
    if why_not:  # shown, not pressable, and no callback behind it
        return dbc.Button(label, id=f"{kind}-off", color=color, disabled=True, title=why_not)
    return dbc.Button(label, id={"type": kind, "trade": trade_id}, color=color, n_clicks=0)


def actions(trade: Trade, role: str) -> html.Div | None:
    """The buttons for a stranded trade (with why they are off, if they are); none for
    any other status."""
    if trade.status != STRANDED:
        return None
    retry_off, close_off = why_not_retry(role), why_not_close(role)
    reasons = [html.Div(why, className="hint") for why in (retry_off, close_off) if why]
    return html.Div(
        [
            _button(_("Retry unwind"), "trade-retry", trade.id, retry_off, "warning"),
            " ",
            _button(_("Close holding"), "trade-close", trade.id, close_off, "danger"),
            html.Div(reasons, id="trade-actions-why-not", className="mt-1") if reasons else None,
        ],
        id="trade-actions",
        className="mb-2",
    )


def close_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id="close-title")),
            dbc.ModalBody(
                [
                    dcc.Store(id="close-trade"),
                    html.P(
                        _(
                            "The desk keeps what the filled legs bought: the trade ends closed, "
                            "its profit the legs' cash flows. This cannot be undone."
                        ),
                        className="hint",
                    ),
                    dbc.Label(
                        _(
                            "Reason (1 to %(limit)s characters, recorded in the audit trail)",
                            limit=reasons.LIMIT,
                        ),
                        html_for="close-reason",
                    ),
                    dbc.Input(id="close-reason", maxLength=reasons.LIMIT),
                    html.Div(id="close-problem", className="mt-2"),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button(_("Cancel"), id="close-cancel", color="secondary"),
                    dbc.Button(_("Close holding"), id="close-confirm", color="danger"),
                ]
            ),
        ],
        id="close-modal",
        is_open=False,
    )


def refusal(exc: TradeRequestError, trade_id: int, label: Callable[[str], str]) -> str:
    """The domain's refusal in the reader's language (by its status, the API's code);
    ``label`` names a trade status."""
    if exc.status == 404:
        return _("Trade %(id)s does not exist", id=trade_id)
    if exc.status == 409:
        with current_desk().sessions() as session:
            status = session.get(Trade, trade_id).status
        return _(
            "Trade #%(id)s is %(status)s, no longer stranded: nothing was changed.",
            id=trade_id,
            status=label(status),
        )
    return _("Give a reason of 1 to %(limit)s characters, on one line.", limit=reasons.LIMIT)


def _trade_id(value: object) -> int:
    """A trade id as the API's routes take it (one the database's column can hold)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= trades.MAX_ID:
        raise BadInput("that names no trade")
    return value


def _clicked(kind: str) -> int | None:
    """The trade whose ``kind`` button was pressed; None when none was (Dash runs the
    callback, with no trigger, when the detail renders a trade's buttons anew)."""
    trigger = ctx.triggered_id
    if trigger is None:
        return None
    if not isinstance(trigger, dict) or trigger.get("type") != kind:
        raise BadInput(f"only a trade's {kind} button does this")
    trade_id = _trade_id(trigger.get("trade"))
    clicks = ctx.triggered[0]["value"]
    return trade_id if isinstance(clicks, int) and clicks > 0 else None


def _stamp() -> float:
    """A new value each action, so the grid re-reads its rows even for the same trade."""
    return current_desk().now().timestamp()


def _alert(text: str, color: str) -> dbc.Alert:
    return dbc.Alert(text, color=color, id="trade-action-result", dismissable=True)


def register_callbacks(
    app: Dash, detail_of: Callable[[int], object], label: Callable[[str], str]
) -> None:
    """``detail_of(trade_id)`` renders the trade's detail again after an action;
    ``label`` names a status in the reader's language (the Trades page's words)."""

    @callback(
        app,
        Output("trades-action", "children"),
        Output("trades-detail", "children", allow_duplicate=True),
        Output("trades-acted", "data"),
        Input({"type": "trade-retry", "trade": ALL}, "n_clicks"),
        prevent_initial_call=True,
        role=TRADER,
    )
    def retry(_clicks):
        trade_id = _clicked("trade-retry")
        if trade_id is None:
            return no_update, no_update, no_update
        desk = current_desk()
        try:
            with desk.sessions.begin() as session:
                stranded.retry(session, trade_id, actor=current_actor(), now=desk.now())
        except TradeRequestError as exc:
            return _alert(refusal(exc, trade_id, label), "warning"), detail_of(trade_id), _stamp()
        if outbox.send(current_app.extensions["celery"], trade_id):
            done = _alert(_("Trade #%(id)s: unwind sent to the worker.", id=trade_id), "success")
        else:
            done = _alert(
                _(
                    "Trade #%(id)s: the trading queue would not take it; the sweeper tries "
                    "again within 5 minutes.",
                    id=trade_id,
                ),
                "danger",
            )
        return done, detail_of(trade_id), _stamp()

    @callback(
        app,
        Output("close-modal", "is_open"),
        Output("close-trade", "data"),
        Output("close-title", "children"),
        Output("close-reason", "value"),
        Output("close-problem", "children"),
        Input({"type": "trade-close", "trade": ALL}, "n_clicks"),
        Input("close-cancel", "n_clicks"),
        prevent_initial_call=True,
        role=ADMIN,
    )
    def open_dialog(_clicks, _cancel):
        if ctx.triggered_id == "close-cancel":
            return False, None, no_update, "", None
        trade_id = _clicked("trade-close")
        if trade_id is None:
            return no_update, no_update, no_update, no_update, no_update
        title = _("Close trade #%(id)s holding what it bought", id=trade_id)
        return True, trade_id, title, "", None

    @callback(
        app,
        Output("close-problem", "children", allow_duplicate=True),
        Output("close-modal", "is_open", allow_duplicate=True),
        Output("trades-action", "children", allow_duplicate=True),
        Output("trades-detail", "children", allow_duplicate=True),
        Output("trades-acted", "data", allow_duplicate=True),
        Input("close-confirm", "n_clicks"),
        State("close-reason", "value"),
        State("close-trade", "data"),
        prevent_initial_call=True,
        role=ADMIN,
    )
    def confirm(clicks, reason, trade_id):
        if not clicks or trade_id is None:
            return no_update, no_update, no_update, no_update, no_update
        trade_id = _trade_id(trade_id)
        expect(reason, str, type(None), name="reason")
        desk = current_desk()
        try:
            profit = stranded.close_now(
                desk.sessions, trade_id, reason=reason, actor=current_actor(), now=desk.now()
            )
        except TradeRequestError as exc:
            if exc.status == 422:  # the reason: the dialog stays open to fix it
                problem = dbc.Alert(
                    refusal(exc, trade_id, label), color="warning", id="close-refused"
                )
                return problem, no_update, no_update, no_update, no_update
            refused = _alert(refusal(exc, trade_id, label), "warning")
            return None, False, refused, detail_of(trade_id), _stamp()
        done = _alert(
            _("Trade #%(id)s closed, profit %(profit)s.", id=trade_id, profit=usd(profit)),
            "success",
        )
        return None, False, done, detail_of(trade_id), _stamp()
