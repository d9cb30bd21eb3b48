"""Rates: what the house pays out per unit its client sends, corridor by corridor, at a
ticket size, and the message with those rates that the house pastes to its clients."""

from __future__ import annotations

from decimal import Decimal

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html

from backend.desk import current_desk
from backend.market import rates
from backend.web.access import VIEWER
from dashboard.access import BadInput, callback, expect
from dashboard.components import format as fmt
from dashboard.components.client_message import client_message, rate_text
from dashboard.components.format import MISSING, percent, price, seconds
from dashboard.components.grid import PHONE_FIT, THEME, WIDE_ONLY, grid_words
from dashboard.i18n import _, dropdown_labels, locale

PATH = "/rates"
NAME = "Rates"


def _columns() -> list[dict]:
    """On a phone (grid.WIDE_ONLY) the corridor, its client rate and whether it is live."""
    right, wide = {"type": "rightAligned"}, WIDE_ONLY
    return [
        {"field": "corridor", "headerName": _("Corridor"), "width": 120},
        {"field": "client_rate", "headerName": _("Client rate"), "width": 200, **right},
        {"field": "implied_rate", "headerName": _("Implied rate"), "width": 200, **right, **wide},
        {"field": "margin", "headerName": _("Margin"), "width": 100, **right, **wide},
        {"field": "buy_price", "headerName": _("Buy USDT at"), "width": 170, **right, **wide},
        {"field": "sell_price", "headerName": _("Sell USDT at"), "width": 170, **right, **wide},
        {"field": "age", "headerName": _("Age"), "width": 90, **right, **wide},
        {
            "field": "state",
            "headerName": _("Books"),
            "width": 110,
            "cellRenderer": "Badge",
            "tooltipField": "reason",
        },
        {"field": "reason", "headerName": _("Why"), "flex": 1, "minWidth": 200, **wide},
    ]


def layout(**_kw):
    settings = current_desk().settings
    sizes = [
        {"label": fmt.number(size, 0, "USD"), "value": str(size)}
        for size in settings.ticket_sizes_usd
    ]
    return html.Div(
        [
            html.H1(_("Rates")),
            html.P(
                _(
                    "Per unit the client sends: the target currency bought through USDT at "
                    "the ticket size after P2P fees (implied), less the house margin (client)."
                ),
                className="hint",
            ),
            dbc.Row(
                [
                    dbc.Col(html.Label(_("Ticket size"), htmlFor="rates-size"), width="auto"),
                    dbc.Col(
                        dcc.Dropdown(
                            labels=dropdown_labels(),
                            id="rates-size",
                            persistence=True,  # kept when the trader comes back
                            persistence_type="local",
                            options=sizes,
                            value=str(settings.default_ticket_usd),
                            clearable=False,
                        ),
                        xs=6,
                        md=2,
                    ),
                ],
                className="g-2 mb-2 align-items-center",
            ),
            dcc.Interval(id="rates-tick", interval=5000),
            html.Div(
                dag.AgGrid(
                    id="rates-grid",
                    columnDefs=_columns(),
                    rowData=[],
                    defaultColDef={"resizable": True, "sortable": True, "minWidth": 80},
                    columnSize="responsiveSizeToFit",  # every column in a 1366 px window
                    eventListeners=PHONE_FIT,
                    dashGridOptions={
                        "domLayout": "autoHeight",
                        "localeText": grid_words(locale()),
                        "theme": {"function": THEME},  # the other pages' grids' look
                    },
                ),
                **{"data-ag-theme-mode": "dark"},
            ),
            html.H2(_("Message for clients (Spanish)")),
            html.Div(
                [
                    dcc.Clipboard(
                        id="rates-copy",
                        target_id="rates-message",
                        title=_("Copy"),
                        className="btn btn-outline-info btn-sm copy",
                    ),
                    html.Pre(id="rates-message", className="client-message"),
                ],
                className="message-box",
            ),
        ]
    )


def row_of(rate: rates.CorridorRate) -> dict:
    c = rate.corridor
    return {
        "corridor": c.label,
        "client_rate": _rate(rate.client_rate, c.target, c.source),
        "implied_rate": _rate(rate.implied_rate, c.target, c.source),
        "margin": percent(rate.margin * 100),
        "buy_price": price(rate.buy_price, c.source, "USDT"),
        "sell_price": price(rate.sell_price, c.target, "USDT"),
        "age": seconds(rate.age_seconds),
        "state": _("stale") if rate.stale else _("live"),
        "state_class": "stale" if rate.stale else "live",
        "reason": reason_text(rate.reason),
    }


def reason_text(reason: str | None) -> str:
    """The backend's reason in the reader's language (as written if no template made it)."""
    for template in rates.REASONS:
        values = template.read(reason or "")
        if values is not None:
            return _(template.template).format(**values)
    return reason or ""


def _rate(value: Decimal | None, target: str, source: str) -> str:
    return MISSING if value is None else f"{rate_text(value, locale())} {target}/{source}"


def register_callbacks(app: Dash) -> None:
    @callback(
        app,
        Output("rates-grid", "rowData"),
        Output("rates-message", "children"),
        Input("rates-size", "value"),
        Input("rates-tick", "n_intervals"),
        role=VIEWER,
    )
    def refresh(size, _n):
        desk = current_desk()
        size = expect(size, str, name="size")
        if size not in {str(s) for s in desk.settings.ticket_sizes_usd}:
            raise BadInput("size is not one of the ticket sizes")
        now = desk.now()
        with desk.sessions() as session:
            board = rates.board(session, desk.cache, desk.settings, now, Decimal(size))
        return [row_of(r) for r in board], client_message(board, now)
