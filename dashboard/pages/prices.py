"""Prices: every market's best and ticket-size prices, refreshed every two seconds."""

from __future__ import annotations

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html

from backend.desk import current_desk
from backend.market import candles, prices
from backend.market.book import Market
from backend.market.latest import errors as latest_errors
from backend.web.access import VIEWER
from dashboard.access import BadInput, callback, expect
from dashboard.components.format import market_price, number
from dashboard.components.table import table

PATH = "/"
NAME = "Prices"


def layout(**_):
    return html.Div(
        [
            html.H1("Prices"),
            html.P(id="prices-ticket", className="hint"),
            dcc.Interval(id="prices-tick", interval=2000),
            html.Div(id="prices-table", children=html.P("Waiting for the first books…")),
            html.Div(
                [
                    html.H2("Mid price, 1-minute candles (last hour)"),
                    dcc.Dropdown(
                        id="chart-market",
                        options=[],
                        value="p2p:USDT/VES",
                        clearable=False,
                        className="market-picker",
                    ),
                    dcc.Interval(id="chart-tick", interval=10_000),
                    dcc.Graph(
                        id="chart", config={"displayModeBar": False}, style={"height": "320px"}
                    ),
                ],
                className="chart-panel",
            ),
        ]
    )


def render() -> tuple[str, object]:
    desk = current_desk()
    ticket = desk.settings.default_ticket_usd
    with desk.sessions() as session:
        refs = prices.references(session, desk.cache, desk.settings, desk.now())
        errors = latest_errors(session)
    rows, classes = [], []
    for key, ref in refs.items():
        entry = prices.as_json(key, ref, errors.get(key))
        fill = next((s for s in entry.get("sizes", []) if s["size_usd"] == str(ticket)), {})
        status = "no data" if ref is None else ("stale" if entry["stale"] else "live")
        rows.append(
            [
                entry["label"],
                entry["source"] or "—",
                market_price(entry["best_bid"], key),
                market_price(entry["best_ask"], key),
                number(entry.get("spread_pct"), 2) + " %" if entry.get("spread_pct") else "—",
                market_price(fill["effective_bid"], key) if fill.get("bid_fillable") else "—",
                market_price(fill["effective_ask"], key) if fill.get("ask_fillable") else "—",
                number(entry.get("bid_depth_1pct"), 2),
                number(entry.get("ask_depth_1pct"), 2),
                f"{entry['age_seconds']:.0f} s" if ref else "—",
                html.Span(
                    status,
                    className=f"badge {status.replace(' ', '-')}",
                    title=entry["error"] or "",
                ),
            ]
        )
        classes.append("market-row " + status.replace(" ", "-"))
    headers = [
        "Market",
        "Source",
        "Best bid",
        "Best ask",
        "Spread",
        f"Bid @ {ticket} USD",
        f"Ask @ {ticket} USD",
        "Bid depth ±1 %",
        "Ask depth ±1 %",
        "Age",
        "Status",
    ]
    hint = (
        f"Effective prices walk the book for a {ticket} USD ticket, honouring each ad's "
        "limits. Bids: what we get selling; asks: what we pay buying."
    )
    return hint, table(headers, rows, classes, table_id="prices-grid")


def chart(market: str) -> go.Figure:
    desk = current_desk()
    with desk.sessions() as session:
        rows = candles.minute_candles(session, market, candles.window(desk.now()))
    fig = go.Figure(
        go.Candlestick(
            x=[c.bucket for c in rows],
            open=[float(c.open) for c in rows],
            high=[float(c.high) for c in rows],
            low=[float(c.low) for c in rows],
            close=[float(c.close) for c in rows],
            name=market,
        )
    )
    fig.update_layout(
        template="plotly_dark",
        margin={"l": 40, "r": 10, "t": 10, "b": 30},
        xaxis_rangeslider_visible=False,
        paper_bgcolor="#0f1419",
        plot_bgcolor="#0f1419",
    )
    if not rows:
        fig.add_annotation(
            text="No ticks in the last hour yet",
            showarrow=False,
            font={"size": 14, "color": "#8a99a8"},
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig


def register_callbacks(app: Dash) -> None:
    @callback(
        app, Output("chart-market", "options"), Input("chart-tick", "n_intervals"), role=VIEWER
    )
    def markets(_n):
        return [
            {"label": Market.parse(k).label, "value": k} for k in current_desk().settings.markets
        ]

    @callback(
        app,
        Output("chart", "figure"),
        Input("chart-market", "value"),
        Input("chart-tick", "n_intervals"),
        role=VIEWER,
    )
    def refresh_chart(market, _n):
        expect(market, str, name="market")
        if market not in current_desk().settings.markets:
            raise BadInput("unknown market")
        return chart(market)

    @callback(
        app,
        Output("prices-ticket", "children"),
        Output("prices-table", "children"),
        Input("prices-tick", "n_intervals"),
        role=VIEWER,
    )
    def refresh(_n):
        return render()
