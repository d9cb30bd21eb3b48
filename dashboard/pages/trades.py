"""Trades: every request and where it stands, live, with realized profit and its legs."""

from __future__ import annotations

from dash import Dash, Input, Output, dcc, html

from backend.desk import current_desk
from backend.trading import trades
from backend.web.access import VIEWER
from dashboard.access import callback
from dashboard.components.format import amount, market_price, number
from dashboard.components.table import table
from dashboard.pages.opportunities import STRATEGY_NAMES

PATH = "/trades"
NAME = "Trades"


def layout(**_):
    return html.Div(
        [
            html.H1("Trades"),
            dcc.Interval(id="trades-tick", interval=1500),
            html.Div(id="trades-table", children=html.P("Loading…")),
        ]
    )


def legs_text(trade) -> str:
    return "; ".join(
        f"{leg.side} {leg.market.split(':', 1)[1]} @ {market_price(leg.price, leg.market)}: "
        f"{amount(leg.sell_amount, leg.sell_currency)} → "
        f"{amount(leg.buy_amount, leg.buy_currency)}"
        for leg in trade.legs
    )


def render():
    desk = current_desk()
    with desk.sessions() as session:
        rows = trades.recent(session)
    if not rows:
        return html.P("No trades yet. Execute one from the Opportunities page.")
    body = [
        [
            f"#{t.id}",
            t.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            STRATEGY_NAMES.get(t.strategy, t.strategy),
            t.mode,
            number(t.size_usd, 0),
            html.Span(t.status, className=f"badge {t.status}"),
            number(t.expected_profit_usd, 2),
            number(t.profit_usd, 2),
            legs_text(t) or (t.error or ""),
        ]
        for t in rows
    ]
    return table(
        [
            "#",
            "Requested",
            "Strategy",
            "Mode",
            "Size USD",
            "Status",
            "Expected USD",
            "Profit USD",
            "Legs / reason",
        ],
        body,
        [f"trade-row {t.status}" for t in rows],
        table_id="trades-grid",
    )


def register_callbacks(app: Dash) -> None:
    @callback(
        app, Output("trades-table", "children"), Input("trades-tick", "n_intervals"), role=VIEWER
    )
    def refresh(_n):
        return render()
