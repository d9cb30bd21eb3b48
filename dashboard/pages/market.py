"""One market in detail: its depth (cumulative fiat per side), candles over a chosen
range (1-minute, coarser for the longer ranges), the prices per payment method and the
ads behind the price."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import cache

import dash_bootstrap_components as dbc
import plotly.io as pio
from dash import Dash, Input, Output, State, dcc, html

from backend.desk import current_desk
from backend.market import board, candles, latest
from backend.market.book import Ad, Book, Market, Venue
from backend.web.access import VIEWER
from dashboard.access import BadInput, callback, expect
from dashboard.components import format as fmt
from dashboard.components import grid, push
from dashboard.i18n import _, _l, date_axis, locale, ngettext, separators

PATH = "/markets/<venue>/<pair>"
NAME = "Market"
RANGES = {"15": _l("15 min"), "60": _l("1 hour"), "360": _l("6 hours"), "1440": _l("24 hours")}
CHART = {"displayModeBar": False, "responsive": True}


def key_of(venue: str | None, pair: str | None) -> str | None:
    """``p2p``, ``USDT-VES`` -> ``p2p:USDT/VES`` if the desk trades it, else None."""
    key = f"{venue}:{(pair or '').replace('-', '/', 1)}"
    return key if key in current_desk().settings.markets else None


def known(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) == 3 and parts[0] == "markets" and key_of(parts[1], parts[2]) is not None


def layout(venue: str | None = None, pair: str | None = None, **_kw):
    key = key_of(venue, pair)
    if key is None:  # the route refuses unknown markets first; this is the layout's guard
        return html.Div(html.H1(_("No such market")))
    m = Market.parse(key)
    return html.Div(
        [
            dcc.Store(id="market-key", data=key),
            *push.listener("market", ["prices"]),
            html.Div(
                [
                    dcc.Link("← " + _("Prices"), href="/", className="back-link"),
                    html.H1(m.label, id="market-title"),
                    dbc.Badge(id="market-age", color="secondary", className="ms-2"),
                ],
                className="d-flex align-items-baseline gap-3 flex-wrap",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.H2(_("Depth: cumulative %(fiat)s per side", fiat=m.fiat)),
                            dcc.Graph(id="depth-chart", config=CHART, style={"height": "340px"}),
                        ],
                        xs=12,
                        lg=6,
                    ),
                    dbc.Col(
                        [
                            html.Div(
                                [
                                    html.H2(candle_title("60"), id="candle-title"),
                                    dbc.RadioItems(
                                        id="candle-range",
                                        options=[
                                            {"label": str(v), "value": k} for k, v in RANGES.items()
                                        ],
                                        value="60",
                                        inline=True,
                                        className="choice-buttons",
                                        inputClassName="btn-check",
                                        labelClassName="btn btn-outline-info btn-sm",
                                        labelCheckedClassName="active",
                                    ),
                                ],
                                className="d-flex justify-content-between flex-wrap gap-2",
                            ),
                            dcc.Graph(id="candle-chart", config=CHART, style={"height": "340px"}),
                        ],
                        xs=12,
                        lg=6,
                    ),
                ],
                className="g-3",
            ),
            html.H2(_("Prices per payment method")),
            grid.grid("methods-grid", method_columns(), row_id="method", empty=_("No ads")),
            html.H2(_("The ads behind the price")),
            grid.grid(
                "ads-grid",
                ad_columns(p2p=m.venue is not Venue.SPOT),
                row_id="id",
                empty=_("No ads"),
                grid_options={"domLayout": "normal", "pagination": True, "paginationPageSize": 20},
                style={"height": "560px", "width": "100%"},
            ),
        ]
    )


def method_columns() -> list[dict]:
    return [
        grid.text("method", _("Payment method"), minWidth=140),
        grid.number("best_bid", _("Best bid"), minWidth=150),
        grid.number("best_ask", _("Best ask"), minWidth=150),
        grid.number("spread", _("Spread"), minWidth=90),
        grid.number("bid_depth", _("Bid depth"), minWidth=130),
        grid.number("ask_depth", _("Ask depth"), minWidth=130),
    ]


def ad_columns(p2p: bool = True) -> list[dict]:
    """A P2P ad's columns; a spot book's levels have only a side, a price and a quantity
    (no advertiser, methods, limits or completion to show as dashes and 100 %)."""
    side = grid.badge("side", _("Side"), minWidth=110, maxWidth=130)
    price = grid.number("price", _("Price"), minWidth=150)
    quantity = grid.number("quantity", _("Available"), minWidth=140)
    if not p2p:
        return [side, price, quantity]
    return [
        side,
        grid.text("advertiser", _("Advertiser"), minWidth=140),
        price,
        grid.text("methods", _("Payment methods"), minWidth=160),
        grid.number("min_amount", _("Limits per order"), minWidth=250),
        quantity,
        grid.number("finish_rate", _("Completion"), minWidth=100),
        grid.number("month_orders", _("Orders (30 d)"), minWidth=100),
    ]


def method_rows(entry: dict) -> list[dict]:
    key, asset = entry["market"], Market.parse(entry["market"]).asset
    return [
        {
            "method": m["method"],
            "best_bid": m["best_bid"] and float(m["best_bid"]),
            "best_bid_text": fmt.market_price(m["best_bid"], key),
            "best_ask": m["best_ask"] and float(m["best_ask"]),
            "best_ask_text": fmt.market_price(m["best_ask"], key),
            "spread": m["spread_pct"] and float(m["spread_pct"]),
            "spread_text": fmt.percent(m["spread_pct"]),
            "bid_depth": float(m["bid_depth_1pct"]),
            "bid_depth_text": fmt.depth(m["bid_depth_1pct"], asset),
            "ask_depth": float(m["ask_depth_1pct"]),
            "ask_depth_text": fmt.depth(m["ask_depth_1pct"], asset),
        }
        for m in entry.get("methods", [])
    ]


def ad_row(ad: Ad, side: str, m: Market) -> dict:
    limits = f"{fmt.amount(ad.min_amount, m.fiat)} – " + (
        fmt.amount(ad.max_amount, m.fiat) if ad.max_amount is not None else "∞"
    )
    merchant = " ✓" if ad.advertiser.user_type == "merchant" else ""
    return {
        "id": f"{side}:{ad.ad_no}",
        "side": side,
        "side_text": _("sells to us") if side == "ask" else _("buys from us"),
        "side_class": "ask" if side == "ask" else "bid",
        "advertiser": (ad.advertiser.nick or "—") + merchant,
        "price": float(ad.price),
        "price_text": fmt.market_price(ad.price, m.key),
        "methods": ", ".join(ad.methods) or _("any"),
        "min_amount": float(ad.min_amount),
        "min_amount_text": limits,
        "quantity": float(ad.quantity),
        "quantity_text": fmt.amount(ad.quantity, m.asset),
        "finish_rate": float(ad.advertiser.finish_rate),
        "finish_rate_text": fmt.percent(ad.advertiser.finish_rate * 100, 1),
        "month_orders": ad.advertiser.month_orders,
        "month_orders_text": fmt.number(Decimal(ad.advertiser.month_orders), 0),
    }


@cache
def _template() -> dict:
    """plotly_dark as JSON, once per process: assigning the template by name to a
    ``go.Figure`` deep-copies and validates it on every refresh (most of the callback).
    Only its layout and its scatter style: the styles of the 23 trace types these charts
    never draw would be more than half of every refresh's bytes."""
    dark = pio.templates["plotly_dark"].to_plotly_json()
    return {"layout": dark["layout"], "data": {"scatter": dark["data"]["scatter"]}}


def _dark(data: list[dict], x_title: str, y_title: str, **layout) -> dict:
    """A figure as the plain JSON ``dcc.Graph`` takes, in the desk's dark style."""
    return {
        "data": data,
        "layout": {
            "template": _template(),
            "margin": {"l": 60, "r": 10, "t": 10, "b": 40},
            "paper_bgcolor": "#0f1419",
            "plot_bgcolor": "#0f1419",
            "legend": {"orientation": "h", "y": 1.08},
            "xaxis": {"title": {"text": x_title}},
            "yaxis": {"title": {"text": y_title}},
            "separators": separators(),
            **layout,
        },
    }


def _empty(fig: dict, message: str) -> dict:
    layout = fig["layout"]
    layout["annotations"] = [
        {"text": message, "showarrow": False, "font": {"size": 14, "color": "#8a99a8"}}
    ]
    layout["xaxis"]["visible"] = layout["yaxis"]["visible"] = False
    return fig


def depth_figure(book: Book | None, m: Market) -> dict:
    """Cumulative fiat each side quotes, walking out from the best price."""
    data = []
    for side, ads, colour, name in (
        ("bid", book.bids if book else (), "#2fbf71", _("Bids")),
        ("ask", book.asks if book else (), "#e5534b", _("Asks")),
    ):
        total, xs, ys = Decimal(0), [], []
        for ad in ads:
            total += ad.price * ad.quantity
            xs.append(float(ad.price))
            ys.append(float(total))
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "name": name,
                "mode": "lines",
                "fill": "tozeroy",
                "line": {"color": colour, "shape": "hv" if side == "ask" else "vh"},
            }
        )
    fig = _dark(data, _("Price (%(unit)s)", unit=f"{m.fiat}/{m.asset}"), m.fiat)
    return fig if book and (book.bids or book.asks) else _empty(fig, _("No book yet"))


def candle_title(minutes: str) -> str:
    """The heading names the candle the chosen range is drawn in (coarser for longer ones)."""
    step = int(candles.step_for(timedelta(minutes=int(minutes))).total_seconds() // 60)
    return ngettext("Mid price, %(num)d-minute candles", "Mid price, %(num)d-minute candles", step)


def candle_figure(rows: list[candles.Candle], m: Market) -> dict:
    data = [
        {
            "type": "candlestick",
            "x": [c.bucket.isoformat() for c in rows],
            "open": [float(c.open) for c in rows],
            "high": [float(c.high) for c in rows],
            "low": [float(c.low) for c in rows],
            "close": [float(c.close) for c in rows],
            "name": m.label,
        }
    ]
    fig = _dark(data, _("Time (UTC)"), f"{m.fiat}/{m.asset}", showlegend=False)
    fig["layout"]["xaxis"] |= {"rangeslider": {"visible": False}} | date_axis()
    return fig if rows else _empty(fig, _("No ticks in this range yet"))


def register_callbacks(app: Dash) -> None:
    push.register(app, "market")

    @callback(app, Output("candle-title", "children"), Input("candle-range", "value"), role=VIEWER)
    def title(minutes):
        expect(minutes, str, name="range")
        if minutes not in RANGES:
            raise BadInput("unknown range")
        return candle_title(minutes)

    @callback(
        app,
        Output("depth-chart", "figure"),
        Output("candle-chart", "figure"),
        Output("methods-grid", "rowData"),
        Output("ads-grid", "rowData"),
        Output("market-age", "children"),
        Output("market-age", "color"),
        Input("market-tick", "n_intervals"),
        Input("candle-range", "value"),
        Input("market-push", "data"),
        State("market-key", "data"),
        role=VIEWER,
    )
    def refresh(_n, minutes, _pushed, key):
        expect(key, str, name="market")
        expect(minutes, str, name="range")
        if key not in current_desk().settings.markets:
            raise BadInput("unknown market")
        if minutes not in RANGES:
            raise BadInput("unknown range")
        desk = current_desk()
        m, now = Market.parse(key), desk.now()
        with desk.sessions() as session:
            line = next(
                x for x in board.lines(session, desk.settings, now, desk.boards) if x.market == key
            )
            depth, methods, ads = book_view(session, line, m)
            candle_chart = candle_view(session, line, m, now, timedelta(minutes=int(minutes)))
        if line.stored is None:
            age, colour = _("no data"), "secondary"
        else:
            age = fmt.seconds(line.age_seconds) + (" · " + _("stale") if line.stale else "")
            colour = "warning" if line.stale else "success"
        return depth, candle_chart, methods, ads, age, colour


def book_view(session, line: board.Line, m: Market) -> tuple[dict, list[dict], list[dict]]:
    """The depth chart, the prices per method and the ads: the same until the market's
    next book, so built once per book and language and kept with its stored board (like
    the Prices rows); a refresh between two books reads no book at all."""
    view = ("market", locale())
    if line.stored is not None and view in line.stored.views:
        return line.stored.views[view]
    book = latest.get(session, current_desk().cache, m.key)
    sides = (("ask", book.asks), ("bid", book.bids)) if book else ()
    ads = [ad_row(ad, side, m) for side, side_ads in sides for ad in side_ads]
    made = depth_figure(book, m), method_rows(line.as_json()), ads
    if line.stored is not None:
        line.stored.views[view] = made
    return made


def candle_view(session, line: board.Line, m: Market, now, span: timedelta) -> dict:
    """The candle chart of ``span``: ingest writes a market's tick and candle with its
    book, so the candles change only with the book and when the window's first candle
    moves. Kept per book, range and language with the first candle it starts at, one
    window each (a market whose polls fail keeps its board for hours)."""
    step = candles.step_for(span)
    first = candles.start(now - span, step)
    view = ("candles", span, locale())
    kept = line.stored.views.get(view) if line.stored is not None else None
    if kept is not None and kept[0] == first:
        return kept[1]
    figure = candle_figure(candles.candles(session, m.key, first, step), m)
    if line.stored is not None:
        line.stored.views[view] = (first, figure)
    return figure
