"""Trades: the whole history searched on the server. The grid asks for one block of rows
at a time (AG Grid's infinite row model), so no page ever carries the history; totals,
the cumulative P&L and the CSV export cover exactly the filtered set."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from babel import numbers
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from backend.desk import current_desk
from backend.models import Trade
from backend.trading import trade_history, trades
from backend.web.access import VIEWER
from dashboard.access import BadInput, callback, clientside_callback, expect, expect_time
from dashboard.components import push, reasons, stranded_actions, tickets
from dashboard.components.format import MISSING, amount, market_name, market_price, side, usd
from dashboard.components.grid import PHONE_FIT, THEME, WIDE_ONLY, grid_words
from dashboard.i18n import _, _l, date_axis, dropdown_labels, locale, told, when

PATH = "/trades"
NAME = "Trades"
BLOCK = 100  # rows per request of the grid
NOTICE_SECONDS = 10  # an action's notice stays at least this long
STATUS_LABELS = {  # translations of backend.trading.trades.STATUSES (a test checks all)
    "requested": _l("requested"),
    "queued": _l("queued"),
    "executing": _l("executing"),
    "awaiting_operator": _l("awaiting operator"),  # a live P2P leg's ticket is open
    "filled": _l("filled"),
    "rejected": _l("rejected"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
    "unwinding": _l("unwinding"),  # stopped halfway: turning what it holds back
    "unwound": _l("unwound"),
    "stranded": _l("stranded"),  # its unwind cannot go on: it holds what its legs bought
    "closed": _l("closed"),  # stranded, then closed by an admin holding what it bought
}
STRATEGIES = {
    "crossed_book": _l("Crossed book"),
    "spot_p2p": _l("Spot vs P2P"),
    "triangle": _l("Triangle"),
}


def _columns() -> list[dict]:
    def col(field, title, **extra):  # sortable where an index makes the order cheap
        return {
            "field": field,
            "headerName": title,
            "sortable": field in trade_history.SORTABLE,
        } | extra

    right, wide = {"type": "rightAligned"}, WIDE_ONLY  # a phone: number, status, profit
    return [
        col("id", "#", width=70),
        col("created_at", _("Requested (UTC)"), width=170, **wide),
        col("requested_by", _("By"), width=100, **wide),
        col("strategy", _("Strategy"), width=120, **wide),
        col("status", _("Status"), width=110, cellRenderer="Badge"),
        col("size_usd", _("Size"), width=120, **right, **wide),
        col("expected_profit_usd", _("Expected profit"), width=140, **right, **wide),
        col("profit_usd", _("Profit"), width=120, **right),
        col("route", _("Route"), flex=2, minWidth=180, **wide),
        col("error", _("Reason"), flex=1, minWidth=140, **wide),
    ]


def _options(names: dict) -> list[dict]:
    return [{"label": str(label), "value": key} for key, label in names.items()]


def status_label(status: str) -> str:
    """The status in the reader's language; one without a translation yet in words."""
    return str(STATUS_LABELS.get(status, status.replace("_", " ")))


def status_options() -> list[dict]:
    """Every status a trade can have, in life-cycle order (one list: trades.STATUSES)."""
    return [{"label": status_label(s), "value": s} for s in trades.STATUSES]


def linked_detail(trade: object):
    """The detail of the trade a link names (``/trades?trade=ID``), shown whatever page of
    the grid holds it; a malformed id (or a repeated one: a list) says so instead of
    failing the page."""
    if trade is None:
        return None
    text = trade if isinstance(trade, str) else ", ".join(map(str, trade))
    trade_id = linked_id(text)
    if trade_id is None:
        return dbc.Alert(
            _("“%(value)s” is not a trade number", value=text[:40]),
            color="warning",
            id="trade-link-error",
        )
    return detail_of(trade_id)


def linked_id(trade: object) -> int | None:
    """The trade id a link names, if it is a well-formed one."""
    if not isinstance(trade, str) or not (trade.isascii() and trade.isdigit()):
        return None
    return int(trade) if len(trade) <= 10 and 0 < int(trade) <= trades.MAX_ID else None


def version_of(trade_id: int) -> str | None:
    """What changes whenever the detail would: status, last change, legs, profit."""
    with current_desk().sessions() as session:
        trade = session.get(Trade, trade_id)
        if trade is None:
            return None
        return f"{trade.status} {trade.updated_at} {len(trade.legs)} {trade.profit_usd}"


def shown_of(trade: object) -> dict | None:
    """The trade whose detail the page shows, and its version then: the page follows it."""
    trade_id = linked_id(trade)
    return None if trade_id is None else {"id": trade_id, "version": version_of(trade_id)}


def layout(trade: str | None = None, **_kw):
    desk = current_desk()
    markets = [{"label": market_name(m), "value": m} for m in desk.settings.markets]
    filters = dbc.Row(
        [
            dbc.Col(
                dcc.DatePickerRange(
                    id="trades-dates",
                    display_format="YYYY-MM-DD",
                    start_date_placeholder_text=_("From"),
                    end_date_placeholder_text=_("To"),
                    clearable=True,
                ),
                xs=12,
                md="auto",
            ),
            dbc.Col(
                dcc.Dropdown(
                    labels=dropdown_labels(),
                    id="trades-market",
                    options=markets,
                    placeholder=_("Market"),
                ),
                xs=6,
                md=2,
            ),
            dbc.Col(
                dcc.Dropdown(
                    labels=dropdown_labels(),
                    id="trades-strategy",
                    options=_options(STRATEGIES),
                    placeholder=_("Strategy"),
                ),
                xs=6,
                md=2,
            ),
            dbc.Col(
                dcc.Dropdown(
                    labels=dropdown_labels(),
                    id="trades-status",
                    options=status_options(),
                    placeholder=_("Status"),
                ),
                xs=6,
                md=2,
            ),
            dbc.Col(
                dbc.Input(id="trades-user", placeholder=_("User"), debounce=True, maxLength=64),
                xs=6,
                md=2,
            ),
            dbc.Col(
                html.A(
                    _("Download CSV"),
                    id="trades-csv",
                    href="/api/v1/trades/export.csv",
                    className="btn btn-outline-info",
                    download="",
                ),
                xs=12,
                md="auto",
            ),
        ],
        className="g-2 mb-2 align-items-center",
    )
    return html.Div(
        [
            html.H1(_("Trades")),
            html.P(
                _("Every trade ever requested. Filter, sort by any column, click a row."),
                className="hint",
            ),
            tickets.panel(),
            filters,
            dcc.Store(id="trades-filter", data={}),
            dcc.Store(id="trades-reloaded"),
            dcc.Store(id="trades-revealed"),  # the trade whose detail was last scrolled to
            dcc.Store(id="trades-acted"),  # a stranded trade was acted on: re-read the rows
            html.Div(id="trades-error", role="alert"),
            html.Div(id="trades-totals", className="mb-2"),
            html.Div(
                dag.AgGrid(
                    id="trades-grid",
                    rowModelType="infinite",
                    columnDefs=_columns(),
                    defaultColDef={
                        "resizable": True,
                        "suppressHeaderMenuButton": True,
                        "wrapHeaderText": True,  # Spanish headers are longer: wrap, not cut
                        "autoHeaderHeight": True,
                    },
                    dashGridOptions={
                        "cacheBlockSize": BLOCK,
                        "maxBlocksInCache": 20,
                        "infiniteInitialRowCount": 1,
                        "rowSelection": {
                            "mode": "singleRow",
                            "checkboxes": False,
                            "enableClickSelection": True,
                        },
                        "localeText": grid_words(locale())
                        | {
                            "loadingOoo": _("Loading…"),
                            "noRowsToShow": _(
                                "No trades here yet: execute one from Opportunities, "
                                "or clear the filters."
                            ),
                        },
                        "theme": {"function": THEME},  # the other pages' grids' look
                    },
                    style={"height": "440px"},
                    eventListeners=PHONE_FIT,
                ),
                **{"data-ag-theme-mode": "dark"},
            ),
            *push.listener("trades", ["trades"]),
            dcc.Store(id="trades-shown", data=shown_of(trade)),
            # The detail gets the page's whole width: its legs table has nine columns.
            html.Div(id="trades-action", role="status", className="mt-3"),
            html.Div(linked_detail(trade), id="trades-detail"),
            dcc.Graph(
                id="trades-pnl",
                config={"displayModeBar": False},
                style={"height": "320px"},
                className="mt-3",
            ),
            stranded_actions.close_modal(),
        ]
    )


def filter_args(dates_from, dates_to, market, strategy, status, user) -> dict[str, str]:
    """The controls' values as the API's query parameters (absent when empty)."""
    values = {
        "from": dates_from and str(dates_from)[:10],
        "to": dates_to and str(dates_to)[:10],
        "market": market,
        "strategy": strategy,
        "status": status,
        "user": user,
    }
    for name, value in values.items():
        expect(value, str, type(None), name=name)
    values["user"] = (user or "").strip() or None
    return {k: v for k, v in values.items() if v}


def page_of(request: dict) -> trade_history.Page:
    """The grid's block request as a page of the history (validated: any value a grid
    could not send is a 400)."""
    expect(request, dict, name="getRowsRequest")
    start, end = request.get("startRow"), request.get("endRow")
    expect(start, int, name="startRow")
    expect(end, int, name="endRow")
    if not 0 <= start < end or end - start > trade_history.MAX_PAGE:
        raise BadInput("startRow and endRow must ask for at most 500 rows")
    if start > trade_history.MAX_OFFSET:
        raise BadInput("startRow is beyond the history")
    sort = expect(request.get("sortModel") or [], list, name="sortModel")
    column, descending = "created_at", True
    if sort:
        first = expect(sort[0], dict, name="sortModel")
        column = expect(first.get("colId"), str, name="colId")
        if column not in trade_history.SORTABLE:
            raise BadInput("the grid cannot sort on that column")
        descending = first.get("sort") != "asc"
    return trade_history.Page(column, descending, start, end - start)


def usd_cells() -> Callable[[Decimal | None], str]:
    """USD at 2 decimals with the reader's separators, for a whole block: Python's own
    formatting with the locale's symbols looked up once (Babel per cell cost ~20 ms a
    block of 100 rows, most of the callback)."""
    here = locale()
    swap = str.maketrans(
        {",": numbers.get_group_symbol(here), ".": numbers.get_decimal_symbol(here)}
    )
    return lambda v: MISSING if v is None else f"{v:,.2f}".translate(swap) + " USD"


def route_text(route: str | None) -> str:
    """``p2p:USDT/VES > spot:BTC/USDT`` -> ``USDT/VES → BTC/USDT spot``."""
    markets = (route or "").split(" > ")
    return " → ".join(
        m.removeprefix("p2p:") if not m.startswith("spot:") else m[5:] + " spot" for m in markets
    )


def row_of(row, money: Callable[[Decimal | None], str], names: dict[str, str]) -> dict:
    """A grid row; times as ISO 8601 UTC (the same in every language, and sortable);
    ``names`` are the strategy and status labels, translated once per block."""
    return {
        "id": row.id,
        "created_at": row.created_at.astimezone(UTC).isoformat(" ", "seconds")[:19],
        "requested_by": row.requested_by,
        "strategy": names.get(row.strategy, row.strategy),
        "status": names.get(row.status, row.status),
        "status_class": row.status,
        "size_usd": money(row.size_usd),
        "expected_profit_usd": money(row.expected_profit_usd),
        "profit_usd": money(row.profit_usd),
        "route": route_text(row.route),
        "error": reasons.translate(row.error or ""),
    }


@functools.lru_cache(maxsize=8)
def labels(code: str) -> dict[str, str]:
    """Strategy and status -> its label in the language ``code`` (the reader's), looked
    up once per language: every block asked for them (0.7 ms of Babel per block)."""
    names = {key: str(label) for key, label in STRATEGIES.items()}
    return names | {status: status_label(status) for status in trades.STATUSES}


def rows(args: dict, request: dict) -> dict:
    """One block of the grid; ``rowCount`` once the end of the filtered set is known."""
    page = page_of(request)
    flt = trade_history.TradeFilter.parse(args)
    desk = current_desk()
    money = usd_cells()
    names = labels(locale())
    with desk.sessions() as session:
        found = trade_history.block(session, desk.cache, flt, page)
    data = [row_of(r, money, names) for r in found]  # the connection is back in the pool
    response = {"rowData": data}
    if len(data) < page.limit:
        response["rowCount"] = page.offset + len(data)
    return response


def totals_view(sums: trade_history.Totals) -> list:
    statuses = [
        dbc.Badge(f"{status_label(s)}: {n}", className=f"badge {s} me-1")
        for s, n in sorted(sums.by_status.items())
    ]
    return [
        html.Span(
            [
                html.Strong(_("%(count)s trades", count=sums.count)),
                " · ",
                # sized, expected and made over the same trades: a rejection's expectation
                # beside no realized profit would compare nothing with something
                _("%(count)s realized", count=sums.realized),
                ": ",
                _("size %(size)s", size=usd(sums.realized_size_usd)),
                " · ",
                _("expected %(profit)s", profit=usd(sums.realized_expected_usd)),
                " · ",
                html.Strong(_("realized %(profit)s", profit=usd(sums.profit_usd))),
                " ",
            ],
            id="trades-sums",
        ),
        *statuses,
    ]


def pnl_figure(curve) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            x=[at for at, _ in curve],
            y=[float(total) for _, total in curve],
            mode="lines" if len(curve) > 1 else "markers",  # one trade: a line has no length
            line={"shape": "hv", "color": "#2fbf71"},
            name=_("Realized profit (USD)"),
        )
    )
    figure.update_layout(
        title=_("Cumulative realized profit (USD)"),
        template="plotly_dark",
        margin={"l": 50, "r": 10, "t": 40, "b": 30},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        yaxis={"title": "USD", "rangemode": "tozero"},
        xaxis=date_axis(),
    )
    if not curve:  # say so rather than draw axes over nothing
        figure.update_xaxes(visible=False)
        figure.update_yaxes(visible=False)
        figure.add_annotation(
            text=_("No settled trade in this selection yet"),
            showarrow=False,
            font={"size": 12, "color": "#8a99a8"},  # in one line of a 390 px phone
        )
    if len(curve) == 1:  # a span Plotly can label, not fractions of a second
        at = curve[0][0]
        figure.update_xaxes(range=[at - timedelta(hours=1), at + timedelta(hours=1)])
    return figure


def postings_view(postings: list) -> html.Div:
    """The double-entry postings of the trade: every line, into (+) or out of (-)."""
    if not postings:
        return html.P(_("No ledger postings (nothing was filled)."), className="hint")
    head = [_("Account"), _("Amount")]
    return html.Div(
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in head]))]
            + [
                html.Tr(
                    [
                        html.Td(p.account, className="text-start"),
                        html.Td(amount(p.amount, p.currency)),
                    ]
                )
                for p in postings
            ],
            className="grid",
            id="trade-postings",
        ),
        className="table-responsive",
    )


def detail_view(trade: Trade, events: list, postings: list) -> html.Div:
    leg_headers = [
        "#",
        _("Market"),
        _("Side"),
        _("Payment method"),
        _("Book price"),
        _("Price after slippage"),
        _("Paid"),
        _("Received"),
        _("Fee"),
    ]

    def cells(values: list) -> list:
        """A leg's cells, each labelled with its column (a phone shows a leg as a card)."""
        return [
            html.Td(
                value,
                className="after-slippage" if i == 5 else None,
                **{"data-label": leg_headers[i]},
            )
            for i, value in enumerate(values)
        ]

    legs = [
        html.Tr(
            cells(
                [
                    leg.seq,
                    market_name(leg.market),
                    side(leg.side, leg.market),
                    leg.method or MISSING,
                    market_price(leg.price, leg.market),
                    market_price(trade_history.price_after_slippage(leg), leg.market),
                    amount(leg.sell_amount, leg.sell_currency),
                    amount(leg.buy_amount, leg.buy_currency),
                    amount(leg.fee, leg.buy_currency),
                ]
            )
        )
        for leg in trade.legs
    ]
    audit = [
        html.Li(
            [
                html.Strong(when(e.at)),
                f" · {e.actor or MISSING} · "
                f"{status_label(e.from_status) if e.from_status else '∅'} → "
                f"{status_label(e.to_status)}",
                html.Span(f" — {e.detail}" if e.detail else "", className="text-muted"),
            ]
        )
        for e in events
    ]
    return html.Div(
        [
            html.H2(_("Trade #%(id)s", id=trade.id)),
            html.P(
                [
                    dbc.Badge(status_label(trade.status), className=trade.status),
                    " ",
                    _("profit %(profit)s", profit=usd(trade.profit_usd)),
                    f" · {reasons.translate(trade.error)}" if trade.error else "",
                ]
            ),
            stranded_actions.actions(trade, current_user.role),
            html.Div(
                html.Table(
                    [
                        html.Thead(html.Tr([html.Th(h) for h in leg_headers])),
                        html.Tbody(legs or [html.Tr(html.Td(_("No legs filled"), colSpan=9))]),
                    ],
                    className="grid",
                    id="trade-legs",
                ),
                className="table-responsive",
            ),
            html.H2(_("Ledger postings")),
            postings_view(postings),
            html.H2(_("Audit trail")),
            html.Ul(audit, id="trade-events", className="audit"),
        ],
        id="trade-detail",
    )


def detail_of(trade_id: int):
    """The trade's detail as it is now (or why there is none)."""
    if not 1 <= trade_id <= trades.MAX_ID:  # no such row; the driver would fail on it
        return dbc.Alert(_("Trade %(id)s does not exist", id=trade_id), color="warning")
    desk = current_desk()
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        if trade is None:
            return dbc.Alert(
                _("Trade %(id)s does not exist", id=trade_id),
                color="warning",
                id="trade-detail-missing",
            )
        return detail_view(
            trade,
            trades.events(session, trade_id),
            trade_history.postings(session, trade_id),
        )


def register_callbacks(app: Dash) -> None:
    tickets.register_callbacks(app)
    stranded_actions.register_callbacks(app, detail_of, status_label)

    @callback(
        app,
        Output("trades-filter", "data"),
        Output("trades-csv", "href"),
        Output("trades-error", "children"),
        Input("trades-dates", "start_date"),
        Input("trades-dates", "end_date"),
        Input("trades-market", "value"),
        Input("trades-strategy", "value"),
        Input("trades-status", "value"),
        Input("trades-user", "value"),
        role=VIEWER,
        prevent_initial_call=True,  # the layout holds the empty filter and its CSV link
    )
    def choose(dates_from, dates_to, market, strategy, status, user):
        args = filter_args(dates_from, dates_to, market, strategy, status, user)
        try:
            trade_history.TradeFilter.parse(args)
        except trade_history.FilterError as exc:
            said = told(exc)
            return {"invalid": True}, "", dbc.Alert(said, color="warning", id="trades-refused")
        link = "/api/v1/trades/export.csv" + (f"?{urlencode(args)}" if args else "")
        return args, link, None

    @callback(
        app,
        Output("trades-grid", "getRowsResponse"),
        Input("trades-grid", "getRowsRequest"),
        State("trades-filter", "data"),
        role=VIEWER,
    )
    def block(request, args):
        if request is None:  # Dash's call at page load: the grid has not asked for rows yet
            raise PreventUpdate
        args = expect(args or {}, dict, name="filter")
        if args.get("invalid"):
            return {"rowData": [], "rowCount": 0}
        try:
            return rows(args, request)
        except trade_history.FilterError as exc:
            raise BadInput(str(exc)) from None

    @callback(
        app,
        Output("trades-totals", "children"),
        Output("trades-pnl", "figure"),
        Input("trades-filter", "data"),
        Input("trades-push", "data"),
        Input("trades-tick", "n_intervals"),
        role=VIEWER,
    )
    def summary(args, _pushed, _n):
        args = expect(args or {}, dict, name="filter")
        if args.get("invalid"):
            return None, pnl_figure([])
        try:
            flt = trade_history.TradeFilter.parse(args)
        except trade_history.FilterError as exc:
            raise BadInput(str(exc)) from None
        desk = current_desk()
        with desk.sessions() as session:
            found = trade_history.summary(session, desk.cache, flt)
        return totals_view(found.totals), pnl_figure(found.pnl)

    @callback(
        app,
        Output("trades-detail", "children"),
        Output("trades-shown", "data"),
        Input("trades-grid", "selectedRows"),
        prevent_initial_call=True,
        role=VIEWER,
    )
    def detail(selected):
        selected = expect(selected, list, type(None), name="selectedRows")
        if not selected:
            return None, None
        row = expect(selected[0], dict, name="selectedRows")
        trade_id = row.get("id")
        if isinstance(trade_id, bool) or not isinstance(trade_id, int):
            raise BadInput("the selected row has no trade id")
        known = 0 < trade_id <= trades.MAX_ID
        shown = {"id": trade_id, "version": version_of(trade_id)} if known else None
        return detail_of(trade_id), shown

    @callback(
        app,
        Output("trades-detail", "children", allow_duplicate=True),
        Output("trades-shown", "data", allow_duplicate=True),
        Output("trades-action", "children", allow_duplicate=True),
        Input("trades-push", "data"),
        Input("trades-tick", "n_intervals"),
        State("trades-shown", "data"),
        State("trades-acted", "data"),
        prevent_initial_call=True,
        role=VIEWER,
    )
    def follow(_pushed, _n, shown, acted):
        """The shown trade's detail again when it changed (queued -> filled as it goes);
        an action's notice once nothing is stranded any more and it has been read."""
        shown = expect(shown, dict, type(None), name="shown")
        acted = expect_time(acted, name="acted")
        desk = current_desk()
        notice = no_update
        if acted is not None and desk.now().timestamp() - acted >= NOTICE_SECONDS:
            with desk.sessions() as session:
                if not trades.stranded(session):
                    notice = None
        trade_id = shown and shown.get("id")
        if isinstance(trade_id, bool) or not isinstance(trade_id, int) or trade_id < 1:
            return no_update, no_update, notice
        if trade_id > trades.MAX_ID:  # no such trade, and an id too long to send back
            return detail_of(trade_id), None, notice
        version = version_of(trade_id)
        if version == shown.get("version"):
            return no_update, no_update, notice
        return detail_of(trade_id), {"id": trade_id, "version": version}, notice

    # In the browser (assets/trades.js): a new filter empties the grid's cache (it asks
    # again from the first row); a pushed trade change (or the poll without Redis)
    # re-reads the blocks it holds, so statuses move live (and at once after a button
    # acted on a stranded trade).
    clientside_callback(
        app,
        ClientsideFunction("trades", "reload"),
        Output("trades-reloaded", "data"),
        Input("trades-filter", "data"),
        Input("trades-push", "data"),
        Input("trades-tick", "n_intervals"),
        Input("trades-acted", "data"),
        role=VIEWER,
        prevent_initial_call=True,  # the grid asks for its first rows itself
    )
    clientside_callback(
        app,
        ClientsideFunction("trades", "reveal"),
        Output("trades-revealed", "data"),
        Input("trades-shown", "data"),
        State("trades-revealed", "data"),
        role=VIEWER,
    )
    push.register(app, "trades")
