"""Opportunities: cycles net of fees, sized to the books, most profitable first. Execute
opens a dialog with every leg, re-priced on the server as the trader edits the size; after
Confirm the dialog follows the trade until it is filled or rejected."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import current_app
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from backend.desk import current_desk
from backend.market import board
from backend.market.book import Market
from backend.models import Opportunity, Trade
from backend.resilience import Unavailable
from backend.trading import opportunities, outbox, quotes, trades
from backend.trading.preview import Preview, evaluate, gather, preview
from backend.web.access import TRADER, VIEWER, allowed
from backend.web.auth import current_actor
from backend.web.security import trade_wait_seconds
from dashboard.access import BadInput, callback, expect, expect_id
from dashboard.components import format as fmt
from dashboard.components import grid, push, reasons
from dashboard.i18n import _, _l, decimal, read_amount, role_name, told, typed_amount

PATH = "/opportunities"
NAME = "Opportunities"

STRATEGY_NAMES = {
    "crossed_book": _l("Crossed book"),
    "spot_p2p": _l("Spot vs P2P"),
    "triangle": _l("Triangle"),
}
FINAL = ("filled", "rejected", "failed")
STATUS_NAMES = {
    "requested": _l("requested"),
    "queued": _l("queued"),
    "executing": _l("executing"),
    "filled": _l("filled"),
    "rejected": _l("rejected"),
    "failed": _l("failed"),
    "awaiting_operator": _l("awaiting operator"),
    "cancelled": _l("cancelled"),
    "unwinding": _l("unwinding"),
    "unwound": _l("unwound"),
    "stranded": _l("stranded"),
    "closed": _l("closed"),
}


def strategy_name(code: str) -> str:
    return str(STRATEGY_NAMES.get(code, code))


def columns() -> list[dict]:
    """On a phone (grid.WIDE_ONLY) the route, the profit and Execute: the rest gives way."""
    wide = grid.WIDE_ONLY
    return [
        grid.number("id", "#", width=70, minWidth=70, maxWidth=80, sort=None, **wide),
        grid.text("strategy", _("Strategy"), width=120, minWidth=110, maxWidth=140, **wide),
        # widths in proportion: the grid scales them to its own (the route gets the most)
        grid.text("route", _("Route"), width=420, minWidth=140, wrapText=True, autoHeight=True),
        grid.number("size", _("Size"), width=120, minWidth=110, **wide),
        grid.number("profit", _("Profit"), width=110, minWidth=95, sort="desc"),
        grid.number("bps", _("Return"), width=90, minWidth=90, **wide),
        grid.number(
            "liquidity",
            _("Liquidity"),
            width=130,
            minWidth=130,
            headerTooltip=str(LIQUIDITY),
            **wide,
        ),
        grid.number("age", _("Seen for"), width=90, minWidth=90, **wide),
        grid.text(
            "expires_at",
            _("Expires in"),
            cellRenderer="Countdown",
            width=100,
            minWidth=100,
            filter=False,
            type="rightAligned",
            **wide,
        ),
        grid.text(
            "execute",
            "",
            cellRenderer="ExecuteButton",
            width=110,
            minWidth=110,
            sortable=False,
            filter=False,
            pinned="right",
            autoHeight=True,
        ),
    ]


LIQUIDITY = _l("The thinnest leg's depth within one percent of its best price, in USD")


def layout(**_kw):
    return html.Div(
        [
            html.H1(_("Opportunities")),
            html.P(
                _(
                    "Each row is a closed cycle from USDT back to USDT, priced by walking "
                    "every leg's book at the size shown, after taker and transfer fees."
                ),
                className="hint",
            ),
            html.Div(id="execute-why-not"),
            *push.listener("opps", ["opportunities", "prices", "trades"]),
            grid.grid(
                "opps-grid",
                columns(),
                row_id="key",
                empty=_("No opportunity clears the minimum profit right now."),
            ),
            execute_modal(),
        ]
    )


def execute_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id="execute-title")),
            dbc.ModalBody(
                [
                    dcc.Store(id="execute-pending"),
                    dcc.Store(id="execute-trade"),
                    dcc.Interval(id="execute-follow", interval=500, disabled=True),
                    # while the dialog is open: price it again as the books move
                    dcc.Interval(id="execute-recheck", interval=2000, disabled=True),
                    dbc.Row(
                        [
                            dbc.Col(
                                [
                                    dbc.Label(_("Size (USD)"), html_for="execute-size"),
                                    dbc.Input(  # text: a number field reads "50,5" as 505
                                        id="execute-size",
                                        type="text",
                                        inputMode="decimal",
                                        autoComplete="off",
                                    ),
                                ],
                                xs=12,
                                md=4,
                            ),
                            dbc.Col(html.Div(id="execute-profit"), xs=12, md=8),
                        ],
                        className="g-2 mb-2 align-items-end",
                    ),
                    grid.grid("legs-grid", leg_columns(), row_id="key", empty="—"),
                    html.Div(id="execute-problem"),
                    html.Div(id="execute-status", role="status"),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button(_("Close"), id="execute-cancel", color="secondary"),
                    dbc.Button(_("Confirm"), id="execute-confirm", color="primary"),
                ]
            ),
        ],
        id="execute-modal",
        size="xl",
        is_open=False,
        scrollable=True,
    )


def leg_columns() -> list[dict]:
    """On a phone each leg is one card of a cell (side, market, payment method, price,
    what we pay and receive, the fee): nine columns would scroll sideways."""
    wide = grid.WIDE_ONLY
    return [
        grid.text(
            "leg",
            _("Legs"),
            wrapText=True,
            autoHeight=True,
            cellClass="leg-card",
            **grid.PHONE_ONLY,
        ),
        grid.number("seq", "#", minWidth=50, maxWidth=60, **wide),
        grid.text("market", _("Market"), minWidth=110, **wide),
        grid.text("side", _("Side"), minWidth=90, **wide),
        grid.text("method", _("Payment method"), minWidth=120, **wide),
        grid.number("price", _("Price"), minWidth=150, **wide),
        grid.number("paid", _("We pay"), minWidth=110, **wide),
        grid.number("received", _("We receive"), minWidth=110, **wide),
        grid.number("fee", _("Fee"), minWidth=120, **wide),
    ]


def describe(legs: list[dict]) -> str:
    return " → ".join(
        f"{_side(leg)} {Market.parse(leg['market']).label}"
        + (f" ({leg['method']})" if leg.get("method") else "")
        for leg in legs
    )


def _side(leg: dict) -> str:
    return _("buy") if leg["side"] == "BUY" else _("sell")


def liquidity_usd(legs: list[dict], rows: dict[str, dict]) -> Decimal | None:
    """The thinnest leg: depth within 1 % on the side it takes, valued in USD."""
    values = []
    for leg in legs:
        row = rows.get(leg["market"]) or {}
        depth = row.get("ask_depth_1pct" if leg["side"] == "BUY" else "bid_depth_1pct")
        usd = _usd_per(Market.parse(leg["market"]).asset, rows)
        if depth is None or usd is None:
            return None
        values.append(Decimal(depth) * usd)
    return min(values) if values else None


def _usd_per(asset: str, rows: dict[str, dict]) -> Decimal | None:
    if asset in ("USDT", "USD"):
        return Decimal(1)
    mid = (rows.get(f"spot:{asset}/USDT") or {}).get("mid")
    return Decimal(mid) if mid else None


def why_not(role: str, kill_switch: bool) -> str | None:
    """Why Execute is disabled for every row, if it is."""
    if not allowed(role, TRADER):
        return _("Executing needs the trader role; your role is %(role)s.", role=role_name(role))
    if kill_switch:
        return _("The kill switch is on: no trade executes until an admin resumes.")
    return None


def row(opp: Opportunity, rows: dict[str, dict], now: datetime, reason: str | None) -> dict:
    liquidity = liquidity_usd(opp.legs, rows)
    age = (now - opp.first_seen).total_seconds()
    return {
        "key": str(opp.id),
        "id": opp.id,
        "id_text": f"#{opp.id}",
        "strategy": strategy_name(opp.strategy),
        "route": describe(opp.legs),
        "size": float(opp.size_usd),
        "size_text": fmt.usd(opp.size_usd),
        "profit": float(opp.profit_usd),
        "profit_text": fmt.usd(opp.profit_usd),
        "bps": float(opp.profit_bps),
        "bps_text": fmt.bps(opp.profit_bps),
        "liquidity": liquidity and float(liquidity),
        "liquidity_text": fmt.usd(liquidity and liquidity.quantize(Decimal(1))),
        "age": age,
        "age_text": fmt.seconds(age),
        "expires_at": opp.expires_at.timestamp() * 1000,
        "execute": _("Execute"),
        "execute_disabled": reason is not None,
        "execute_title": reason or _("Execute #%(id)s in paper mode", id=opp.id),
    }


def render() -> tuple[list[dict], object]:
    """Each row with why Execute is off, if it is: the role, the kill switch, or the
    executor's first refusal of it at its listed size (a stale book, a limit, a house
    account short of what the trade pays)."""
    desk = current_desk()
    now = desk.now()
    with desk.sessions() as session:
        found = opportunities.list_active(session, now)
        rows = {r["market"]: r for r in board.read(session, desk.settings, now, desk.boards)}
        markets = {leg["market"] for opp in found for leg in opp.legs}
        checks = gather(session, desk.cache, desk.settings, markets, now)
    blocked = why_not(current_user.role, checks.limits.kill_switch)
    banner = dbc.Alert(blocked, color="info", id="execute-why-not-text") if blocked else None
    out = []
    for opp in found:
        refusals = evaluate(checks, opp.legs, opp.size_usd).refusals
        first = reasons.translate(refusals[0]) if refusals else None
        out.append(row(opp, rows, now, blocked or first))
    return out, banner


def leg_rows(result: Preview) -> list[dict]:
    out = []
    for seq, f in enumerate(result.fills, start=1):
        m = Market.parse(f.leg.market)
        side = fmt.side(f.leg.side, f.leg.market)
        price = fmt.market_price(f.price, f.leg.market)
        paid = fmt.amount(f.sell_amount, f.leg.src)
        received = fmt.amount(f.buy_amount, f.leg.dst)
        received += "" if f.complete else " · " + _("partial")
        fee = fmt.amount(f.fee, f.leg.dst)
        heading = [f"{seq}. {side}", m.label, *([f.leg.method] if f.leg.method else [])]
        out.append(
            {
                "key": str(seq),
                "leg": "\n".join(
                    [
                        " · ".join(heading),
                        price,
                        f"{_('We pay')} {paid}",
                        f"{_('We receive')} {received} · {_('Fee')} {fee}",
                    ]
                ),
                "seq": seq,
                "seq_text": str(seq),
                "market": m.label,
                "side": side,
                "method": f.leg.method or "—",
                "price": f.price and float(f.price),
                "price_text": price,
                "paid": float(f.sell_amount),
                "paid_text": paid,
                "received": float(f.buy_amount),
                "received_text": received,
                "fee": float(f.fee),
                "fee_text": fee,
            }
        )
    return out


def _pending(value: object) -> dict:
    expect(value, dict, name="pending trade")
    if set(value) != {"opportunity_id", "key"}:
        raise BadInput("pending trade has unexpected fields")
    expect_id(value["opportunity_id"], "opportunity")
    expect(value["key"], str, name="key")
    return value


def status_view(trade: Trade) -> html.Div:
    name = str(STATUS_NAMES.get(trade.status, trade.status))
    parts = [html.Span(name, className=f"badge {trade.status}", id="execute-trade-status")]
    if trade.status in ("filled", "unwound", "closed"):
        parts.append(
            html.Span(
                _("Realized profit: %(profit)s", profit=fmt.usd(trade.profit_usd)),
                id="execute-realized",
                className="ms-2",
            )
        )
    elif trade.status in ("rejected", "failed", "unwinding", "stranded"):
        parts.append(
            html.Span(reasons.translate(trade.error or ""), id="execute-reason", className="ms-2")
        )
    parts.append(
        dcc.Link(
            _("See it on Trades"),
            href=f"/trades?trade={trade.id}",
            id="execute-trade-link",
            className="ms-3",
        )
    )
    return dbc.Alert(
        [_("Trade #%(id)s", id=trade.id), " ", *parts],
        color={
            "filled": "success",
            "rejected": "warning",
            "failed": "danger",
            "unwound": "warning",
            "stranded": "danger",
            "closed": "warning",
        }.get(trade.status, "info"),
        className="mt-3",
    )


def register_callbacks(app: Dash) -> None:
    push.register(app, "opps")

    @callback(
        app,
        Output("opps-grid", "rowData"),
        Output("execute-why-not", "children"),
        Input("opps-tick", "n_intervals"),
        Input("opps-push", "data"),
        role=VIEWER,
    )
    def refresh(_n, _pushed):
        return render()

    @callback(
        app,
        Output("execute-modal", "is_open"),
        Output("execute-pending", "data"),
        Output("execute-size", "value"),
        Output("execute-title", "children"),
        Output("execute-trade", "data", allow_duplicate=True),
        Output("execute-status", "children", allow_duplicate=True),
        Output("execute-recheck", "disabled"),
        Input("opps-grid", "cellRendererData"),
        Input("execute-cancel", "n_clicks"),
        prevent_initial_call=True,
        role=TRADER,
    )
    def open_dialog(clicked, _cancel):
        if ctx.triggered_id == "execute-cancel":
            return False, None, no_update, no_update, None, None, True
        expect(clicked, dict, name="clicked cell")
        opp_id = expect_id(clicked.get("value"), name="opportunity")
        with current_desk().sessions() as session:
            opp = session.get(Opportunity, opp_id)
        if opp is None:
            raise BadInput("unknown opportunity")
        # The key is minted when the dialog opens, so a double Confirm stays one trade.
        pending = {"opportunity_id": opp.id, "key": str(uuid.uuid4())}
        title = _("Execute #%(id)s · %(strategy)s", id=opp.id, strategy=strategy_name(opp.strategy))
        return True, pending, typed_amount(opp.size_usd), title, None, None, False

    @callback(
        app,
        Output("legs-grid", "rowData"),
        Output("execute-profit", "children"),
        Output("execute-problem", "children"),
        Output("execute-confirm", "disabled", allow_duplicate=True),
        Input("execute-size", "value"),
        Input("execute-pending", "data"),
        Input("execute-recheck", "n_intervals"),
        State("execute-trade", "data"),
        State("execute-modal", "is_open"),
        prevent_initial_call=True,
        role=TRADER,
    )
    def reprice(raw_size, pending, _tick, trade_id, is_open):
        """As the size is typed, and again every 2 s while the dialog is open (until
        Confirm): a row that has gone, or the kill switch, disables Confirm."""
        if not pending:
            return [], None, None, True
        rechecked = ctx.triggered_id == "execute-recheck"
        if rechecked and (trade_id is not None or not is_open):  # confirmed, or closed
            return no_update, no_update, no_update, no_update
        pending = _pending(pending)
        expect(raw_size, int, float, str, type(None), name="size")
        desk = current_desk()
        typed = _typed(raw_size)
        if typed is None:
            return (
                [],
                None,
                dbc.Alert(_how_to_type(), color="warning", id="execute-size-error"),
                True,
            )
        try:
            size = trades.parse_size(typed, desk.settings.min_ticket_usd)
        except trades.TradeRequestError as exc:  # what is wrong with it, in their language
            problem = told(exc)
            return [], None, dbc.Alert(problem, color="warning", id="execute-size-error"), True
        if size is None:
            problem = _(
                "Type a size in USD from %(min)s, with at most cents.",
                min=fmt.usd(desk.settings.min_ticket_usd),
            )
            return [], None, dbc.Alert(problem, color="warning", id="execute-size-error"), True
        with desk.sessions() as session:
            opp = session.get(Opportunity, pending["opportunity_id"])
            if opp is None:
                raise BadInput("unknown opportunity")
            if opp.status != "active" or opp.expires_at <= desk.now():
                gone = _(
                    "This opportunity is gone: the books moved since it was listed. "
                    "Cancel and choose another."
                )
                return (
                    no_update,
                    no_update,
                    dbc.Alert(gone, color="warning", id="execute-gone"),
                    True,
                )
            result = preview(session, desk.cache, desk.settings, opp.legs, size, desk.now())
        profit = (
            html.Div(
                [
                    html.Span(
                        _("Expected profit on %(size)s", size=fmt.usd(size)) + ": ",
                        className="text-muted",
                    ),
                    html.Strong(fmt.usd(result.profit_usd), id="execute-expected"),
                    html.Span(" (" + fmt.bps(result.profit_usd / size * 10000) + ")"),
                ]
            )
            if result.complete
            else html.Div(
                _("The books cannot fill %(size)s.", size=fmt.usd(size)),
                id="execute-expected",
                className="text-warning",
            )
        )
        problem = (
            dbc.Alert(
                [html.Div(_("The executor would refuse it:"))]
                + [html.Div("• " + reasons.translate(reason)) for reason in result.refusals],
                color="warning",
                id="execute-refusals",
            )
            if result.refusals
            else None
        )
        return leg_rows(result), profit, problem, bool(result.refusals) or trade_id is not None

    @callback(
        app,
        Output("execute-trade", "data"),
        Output("execute-follow", "disabled"),
        Output("execute-status", "children"),
        Output("execute-confirm", "disabled"),
        Input("execute-confirm", "n_clicks"),
        State("execute-size", "value"),
        State("execute-pending", "data"),
        prevent_initial_call=True,
        role=TRADER,
    )
    def confirm(clicks, raw_size, pending):
        if not clicks or not pending:
            return no_update, no_update, no_update, no_update
        pending = _pending(pending)
        expect(raw_size, int, float, str, type(None), name="size")
        typed = _typed(raw_size)
        if typed is None:
            return (
                no_update,
                True,
                dbc.Alert(_how_to_type(), color="danger", id="execute-error"),
                False,
            )
        desk = current_desk()
        wait = trade_wait_seconds(current_actor(), desk.settings.trade_rate_limit)
        if wait:
            message = _("Too many trade requests; try again in %(s)s s.", s=wait)
            return no_update, True, dbc.Alert(message, color="danger", id="execute-error"), False
        try:
            with desk.sessions.begin() as session:
                now = desk.now()
                trade, created = trades.request_trade(
                    session,
                    opportunity_id=pending["opportunity_id"],
                    size=typed,
                    key=pending["key"],
                    user=current_actor(),
                    now=now,
                    min_size=desk.settings.min_ticket_usd,
                    reprice=lambda legs, size: quotes.reprice(
                        session, desk.cache, desk.settings, legs, size, now
                    ),
                )
                trade_id = trade.id
        except trades.TradeRequestError as exc:
            said = told(exc)
            return no_update, True, dbc.Alert(said, color="danger", id="execute-error"), False
        if created:
            outbox.publish(current_app.extensions["celery"], desk, trade_id)
        try:
            with desk.sessions() as session:
                view = status_view(session.get(Trade, trade_id))
        except (SQLAlchemyError, Unavailable):
            if not created:
                raise
            view = status_view(trade)  # stored, as the database had it before it went
        return trade_id, False, view, True

    @callback(
        app,
        Output("execute-status", "children", allow_duplicate=True),
        Output("execute-follow", "disabled", allow_duplicate=True),
        Input("execute-follow", "n_intervals"),
        Input("opps-push", "data"),
        State("execute-trade", "data"),
        prevent_initial_call=True,
        role=VIEWER,
    )
    def follow(_n, _pushed, trade_id):
        if trade_id is None:
            return no_update, True
        expect_id(trade_id, name="trade")
        with current_desk().sessions() as session:
            trade = session.get(Trade, trade_id)
            if trade is None:
                raise BadInput("unknown trade")
            return status_view(trade), trade.status in FINAL


def _typed(raw: int | float | str | None) -> str | None:
    """The size field as ``parse_size`` reads it: text in the reader's marks made plain
    (None: unreadable), "" or None for the opportunity's own size; a number (a hand-made
    request, the field is text) as its digits."""
    if isinstance(raw, str):
        return read_amount(raw) if raw.strip() else ""
    if raw is None:
        return ""
    return format(Decimal(str(raw)).normalize(), "f")


def _how_to_type() -> str:
    return _("Type the size like %(example)s.", example=decimal(Decimal("1250.50"), 2))
