"""Prices: the board a trader watches all day, at the ticket size and payment method they
pick. It reads the board ingest computed (``backend.market.board``); nothing is walked here.
"""

from __future__ import annotations

from decimal import Decimal

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html
from flask import g

from backend.desk import current_desk
from backend.market import board
from backend.market.book import Market
from backend.web.access import VIEWER
from dashboard import answers
from dashboard.access import BadInput, callback, expect
from dashboard.components import format as fmt
from dashboard.components import grid, push
from dashboard.i18n import _, _l, dropdown_labels, locale

PATH = "/"
NAME = "Prices"
ANY = ""  # every payment method
# The refresh's output key, as Dash names it (what the renderer posts as "output").
REFRESH = "..prices-grid.rowData...price-method.options...prices-hint.children.."
WITHIN = _l("Quantity quoted within one percent of the best price")


def href(key: str) -> str:
    """/markets/p2p/USDT-VES: the market's detail page."""
    m = Market.parse(key)
    return f"/markets/{m.venue.value}/{m.asset}-{m.fiat}"


def columns() -> list[dict]:
    return [
        grid.text("label", _("Market"), cellRenderer="Link", pinned="left", minWidth=125),
        grid.number("best_bid", _("Best bid"), minWidth=160),
        grid.number("best_ask", _("Best ask"), minWidth=160),
        grid.number(
            "spread",
            _("Spread"),
            minWidth=80,
            cellClassRules={"crossed": {"function": "params.data.crossed"}},
        ),
        grid.number("eff_bid", _("Sell at size"), minWidth=160),
        grid.number("eff_ask", _("Buy at size"), minWidth=160),
        grid.number("bid_depth", _("Bid depth"), minWidth=125, headerTooltip=str(WITHIN)),
        grid.number("ask_depth", _("Ask depth"), minWidth=125, headerTooltip=str(WITHIN)),
        grid.badge("age", _("Age"), minWidth=70, filter="agNumberColumnFilter"),
        grid.text(
            "sparkline",
            _("Last ticks"),
            cellRenderer="Sparkline",
            cellDataType=False,
            sortable=False,
            filter=False,
            minWidth=120,  # the 90 px line and the cell padding
        ),
    ]


def layout(**_kw):
    settings = current_desk().settings
    return html.Div(
        [
            html.H1(_("Prices")),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label(_("Ticket size"), html_for="ticket-size"),
                            dbc.RadioItems(
                                id="ticket-size",
                                persistence=True,  # kept when the trader comes back
                                persistence_type="local",
                                options=[
                                    {"label": fmt.number(size, 0, "USD"), "value": str(size)}
                                    for size in settings.ticket_sizes_usd
                                ],
                                value=str(settings.default_ticket_usd),
                                inline=True,
                                className="choice-buttons",
                                inputClassName="btn-check",
                                labelClassName="btn btn-outline-info btn-sm",
                                labelCheckedClassName="active",
                            ),
                        ],
                        xs=12,
                        lg="auto",
                    ),
                    dbc.Col(
                        [
                            dbc.Label(_("Payment method"), html_for="price-method"),
                            dcc.Dropdown(
                                labels=dropdown_labels(),
                                id="price-method",
                                persistence=True,  # kept when the trader comes back
                                persistence_type="local",
                                options=[{"label": _("Any method"), "value": ANY}],
                                value=ANY,
                                clearable=False,
                                className="method-picker",
                            ),
                        ],
                        xs=12,
                        lg=3,
                    ),
                ],
                className="g-3 mb-2 align-items-end",
            ),
            html.P(id="prices-hint", className="hint"),
            *push.listener("prices", ["prices"]),
            grid.grid(
                "prices-grid",
                columns(),
                row_id="market",
                empty=_("Waiting for the first books…"),
            ),
        ]
    )


def _side(quote: dict | None, side: str, key: str) -> tuple[float | None, str]:
    """The effective price at the ticket size and whether the book fills it."""
    if quote is None:
        return None, fmt.MISSING
    value = quote.get(f"effective_{side}")
    if value is None or not quote[f"{side}_fillable"]:
        return None, _("does not fill")
    return float(value), fmt.market_price(value, key)


def row(entry: dict, size: str, method: str) -> dict:
    """One grid row: numbers for sorting, text for reading."""
    return _prices(entry, size, method) | _age(entry, _source(entry), _words())


def _prices(entry: dict, size: str, method: str) -> dict:
    """What a row shows of the board itself: the same until the market's next book."""
    key = entry["market"]
    m = Market.parse(key)
    prices = entry
    if method != ANY:
        prices = next((x for x in entry["methods"] if x["method"] == method), None) or {}
    quote = next((q for q in prices.get("sizes", []) if q["size_usd"] == size), None)
    bid, ask = prices.get("best_bid"), prices.get("best_ask")
    crossed = bid is not None and ask is not None and Decimal(bid) > Decimal(ask)
    spread = prices.get("spread_pct")
    eff_bid, eff_bid_text = _side(quote, "bid", key)
    eff_ask, eff_ask_text = _side(quote, "ask", key)
    return {
        "market": key,
        "label": m.label,
        "label_href": href(key),
        "best_bid": bid and float(bid),
        "best_bid_text": fmt.market_price(bid, key),
        "best_ask": ask and float(ask),
        "best_ask_text": fmt.market_price(ask, key),
        "spread": spread and float(spread),
        "spread_text": fmt.percent(spread),
        "crossed": crossed,
        "eff_bid": eff_bid,
        "eff_bid_text": eff_bid_text,
        "eff_ask": eff_ask,
        "eff_ask_text": eff_ask_text,
        "bid_depth": float(prices.get("bid_depth_1pct") or 0),
        "bid_depth_text": fmt.depth(prices.get("bid_depth_1pct"), m.asset),
        "ask_depth": float(prices.get("ask_depth_1pct") or 0),
        "ask_depth_text": fmt.depth(prices.get("ask_depth_1pct"), m.asset),
        "sparkline": [float(x) for x in entry.get("sparkline", [])],
    }


def _words() -> dict[str, str]:
    """The age column's words in the user's language, translated once per refresh."""
    return {"no data": _("no data"), "stale": _("stale")}


def _source(entry: dict) -> str:
    return _("source: %(name)s", name=entry.get("source") or "—")


def _age(entry: dict, source: str, words: dict[str, str]) -> dict:
    """What changes with the clock and the last poll: age, staleness, the poll's error."""
    age = entry.get("age_seconds")
    if entry.get("source") is None:
        status, cls = words["no data"], "no-data"
    elif entry["stale"]:
        status, cls = fmt.seconds(age) + " · " + words["stale"], "stale"
    else:
        status, cls = fmt.seconds(age), "live"
    error = entry.get("error")
    return {
        "age": None if age is None else int(age),  # whole seconds, as the text shows it
        "age_text": status,
        "age_class": cls,
        "age_title": f"{source} · {error}" if error else source,
    }


def _row(line: board.Line, size: str, method: str, words: dict[str, str]) -> dict:
    """``row``, with the board's part formatted once per book, size, method and language
    (kept with the stored board, so it goes when the next book lands)."""
    entry = line.as_json()
    if line.stored is None:
        return _prices(entry, size, method) | _age(entry, _source(entry), words)
    view = ("prices", size, method, locale())
    formatted = line.stored.views.get(view)
    if formatted is None:
        formatted = line.stored.views[view] = (_prices(entry, size, method), _source(entry))
    prices, source = formatted
    return prices | _age(entry, source, words)


def rows(found: list[board.Line], size: str, method: str) -> tuple[list[dict], list[str]]:
    methods = sorted(
        {m["method"] for line in found if line.stored for m in line.stored.row["methods"]}
    )
    words = _words()
    return [_row(line, size, method, words) for line in found], methods


def shown() -> tuple:
    """What the answer shows of the markets now, once per request (the kept answer
    in front of Dash and the callback share it): the answer changes only with a book, a
    poll's error, a market's age in whole seconds (all it shows) or its staleness."""
    if "prices_shown" not in g:
        desk = current_desk()
        found = board.lines_now(desk.engine, desk.settings, desk.now(), desk.boards)
        g.prices_lines = found
        g.prices_shown = tuple(
            (
                line.market,
                line.stored and line.stored.fetched_at,
                line.error,
                None if line.age_seconds is None else int(line.age_seconds),
                line.stale,
            )
            for line in found
        )
    return g.prices_shown


def answer(size: str, method: str) -> tuple[list[dict], list[dict], str]:
    """The callback's outputs: within one second every viewer's refresh gets the same
    answer, made once per process."""
    lines = shown()
    found = g.prices_lines
    return current_desk().boards.view(
        ("prices", size, method, locale()), lines, lambda: _outputs(found, size, method)
    )


def _outputs(found: list[board.Line], size: str, method: str) -> tuple[list, list, str]:
    data, methods = rows(found, size, method)
    options = [{"label": _("Any method"), "value": ANY}] + [
        {"label": m, "value": m} for m in methods
    ]
    hint = _(
        "Sell at size and Buy at size walk the book for a %(size)s ticket, honouring each "
        "ad's limits: what we get selling, what we pay buying. Open a market for its "
        "depth, candles and ads.",
        size=fmt.number(size, 0, "USD"),
    )
    return data, options, hint


def register_callbacks(app: Dash) -> None:
    push.register(app, "prices")

    @callback(
        app,
        Output("prices-grid", "rowData"),
        Output("price-method", "options"),
        Output("prices-hint", "children"),
        Input("ticket-size", "value"),
        Input("price-method", "value"),
        Input("prices-tick", "n_intervals"),
        Input("prices-push", "data"),
        role=VIEWER,
    )
    def refresh(size, method, _n, _pushed):
        expect(size, str, name="ticket size")
        expect(method, str, name="payment method")
        if size not in {str(s) for s in current_desk().settings.ticket_sizes_usd}:
            raise BadInput("ticket size is not one the desk prices")
        if len(method) > 64:
            raise BadInput("payment method is too long")
        return answer(size, method)

    # it reads the ticket size and the method; the tick and the push only trigger it
    answers.keep(app.server, REFRESH, ("ticket-size", "price-method"), shown)
