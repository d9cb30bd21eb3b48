"""Risk: what the house holds per account (the ledger's sums), today's use of each limit,
the kill switch (admins pause and resume trading; everyone else reads) and who changed
which control, when and why."""

from __future__ import annotations

from decimal import Decimal

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from flask_login import current_user

from backend.desk import current_desk
from backend.market import rates
from backend.trading import accounts, balances, controls, executor, reasons
from backend.trading.risk import Day
from backend.web.access import ADMIN, VIEWER, allowed
from backend.web.auth import current_actor
from dashboard.access import MAX_SAFE_INTEGER, BadInput, callback, expect
from dashboard.components import grid
from dashboard.components.format import amount, percent, usd
from dashboard.i18n import _, locale, when

PATH = "/risk"
NAME = "Risk"


def _kill_switch_form() -> html.Div:
    if not allowed(current_user.role, ADMIN):
        return html.P(
            _("Only an admin can pause or resume trading."), id="risk-readonly", className="hint"
        )
    return html.Div(
        [
            dbc.Input(
                id="risk-reason",
                placeholder=_("Why (recorded in the history)"),
                maxLength=reasons.LIMIT,
                className="mb-2",
            ),
            dbc.Button(_("Pause trading"), id="risk-pause", color="danger", className="me-2"),
            dbc.Button(_("Resume trading"), id="risk-resume", color="success"),
            html.Div(id="risk-result", role="status", className="mt-2"),
        ],
        id="risk-form",
    )


def layout(**_kw):
    history_columns = [
        {"field": "at", "headerName": _("When"), "width": 240},
        {"field": "key", "headerName": _("Control"), "width": 200},
        {"field": "old", "headerName": _("From"), "width": 120},
        {"field": "new", "headerName": _("To"), "width": 120},
        {"field": "actor", "headerName": _("Who"), "width": 120},
        {"field": "reason", "headerName": _("Why"), "flex": 1, "minWidth": 200},
    ]
    return html.Div(
        [
            html.H1(_("Risk")),
            dcc.Interval(id="risk-tick", interval=5000),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody(
                                [
                                    html.H2(_("Kill switch")),
                                    html.Div(id="risk-switch"),
                                    _kill_switch_form(),
                                ]
                            )
                        ),
                        lg=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Card(
                                dbc.CardBody(
                                    [
                                        html.H2(_("Limits")),
                                        html.Div(id="risk-limits", className="table-responsive"),
                                    ]
                                ),
                                className="mb-3",
                            ),
                            dbc.Card(
                                dbc.CardBody(
                                    [
                                        html.H2(_("Balances")),
                                        html.Div(id="risk-balances", className="table-responsive"),
                                    ]
                                )
                            ),
                        ],
                        lg=8,
                    ),
                ],
                className="g-3",
            ),
            html.H2(_("Control changes")),
            html.Div(
                dag.AgGrid(
                    id="risk-history",
                    columnDefs=history_columns,
                    rowData=[],
                    defaultColDef={"resizable": True, "sortable": True},
                    dashGridOptions={
                        "domLayout": "autoHeight",
                        "localeText": grid.grid_words(locale())
                        | {"noRowsToShow": _("No control has been changed yet.")},
                        "theme": {"function": grid.THEME},  # the other pages' grids' look
                    },
                ),
                **{"data-ag-theme-mode": "dark"},
            ),
        ]
    )


def switch_view(now: controls.Controls, last) -> html.Div:
    """On or off, and the last change: who, when and why."""
    if now.kill_switch:
        state = dbc.Badge(_("Trading paused"), color="danger", id="risk-state")
        say = _("Workers reject every trade until an admin resumes trading.")
    else:
        state = dbc.Badge(_("Trading active"), color="success", id="risk-state")
        say = _("Workers execute trades that pass every other check.")
    since = (
        html.P(
            _(
                "%(who)s, %(when)s: “%(why)s”",
                who=last.actor,
                when=when(last.at),
                why=last.reason or "—",
            ),
            id="risk-last-change",
        )
        if last
        else None
    )
    return html.Div([html.P(state), since, html.P(say, className="hint")])


def _use(used, limit) -> html.Td:
    """How much of a daily limit is gone, as a bar a glance reads."""
    share = 0 if not limit else min(100, float(used / limit * 100))
    color = "danger" if share >= 90 else "warning" if share >= 60 else "success"
    bar = dbc.Progress(value=share, color=color, label=percent(share, 0), style={"height": "18px"})
    return html.Td(bar, style={"width": "30%", "minWidth": "120px"})


def _of(used, limit) -> str:
    return _("%(used)s of %(limit)s", used=usd(used), limit=usd(limit))


def limits_view(now: controls.Controls, day: Day) -> html.Table:
    """Each limit in force and, for the daily ones, what today (UTC) has used of it."""
    notional, loss = now.max_daily_notional_usd, now.max_daily_loss_usd
    rows = [
        (_("Traded today"), _of(day.notional_usd, notional), _use(day.notional_usd, notional)),
        (_("Loss today"), _of(day.loss_usd, loss), _use(day.loss_usd, loss)),
        (_("Maximum trade size"), usd(now.max_trade_usd), html.Td()),
        (_("Minimum profit per trade"), usd(now.min_profit_usd), html.Td()),
        (_("Open operator tickets at most"), str(now.max_open_tickets), html.Td()),
    ]
    return html.Table(
        [html.Tr([html.Th(name), html.Td(value), bar]) for name, value, bar in rows],
        className="grid",
        id="risk-limits-table",
    )


def balances_view(session, now: controls.Controls) -> html.Table | html.P:
    """Every house account (``bank:Banesco:VES``, ``binance:USDT``...) with its balance and
    the floor an admin set for it (below it: highlighted)."""
    rows = balances.show(session)
    if not rows:
        return html.P(_("No balances recorded."), className="hint")
    head = [_("Account"), _("Balance"), _("Floor")]

    def line(row: dict) -> html.Tr:
        """Cells labelled with their column: a phone shows each account as a card."""
        floor = now.floor(row["account"])
        low = row["balance"] < floor
        values = [
            row["account"],
            amount(row["balance"], row["currency"]),
            [amount(floor, row["currency"])]
            + ([" ", dbc.Badge(_("below floor"), className="crossed")] if low else []),
        ]
        return html.Tr(
            [
                html.Td(value, className="text-start" if i == 0 else None, **{"data-label": h})
                for i, (value, h) in enumerate(zip(values, head, strict=True))
            ],
            className="low" if low else None,
        )

    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head]))] + [line(row) for row in rows],
        className="grid",
        id="risk-balances-table",
    )


def control_name(key: str) -> str:
    """A control as the Limits card names it, not its settings key."""
    names = {
        "kill_switch": _("Kill switch"),
        "min_profit_usd": _("Minimum profit per trade"),
        "max_trade_usd": _("Maximum trade size"),
        "max_daily_notional_usd": _("Daily notional limit"),
        "max_daily_loss_usd": _("Daily loss limit"),
        "max_open_tickets": _("Open operator tickets at most"),
    }
    if key.startswith(controls.FLOOR):
        return _("Floor of %(account)s", account=key.removeprefix(controls.FLOOR))
    if key.startswith(controls.MARGIN):
        return _("Margin on %(corridor)s", corridor=rates.label(key.removeprefix(controls.MARGIN)))
    return names.get(key, key)


def control_value(key: str, value: str | None) -> str:
    """A stored control value with its unit, in the reader's language."""
    if value is None:
        return ""
    if key == "kill_switch":
        return _("Trading paused") if value == "true" else _("Trading active")
    if key.startswith(controls.MARGIN):
        return percent(Decimal(value) * 100)
    if key.startswith(controls.FLOOR):
        return amount(value, accounts.currency_of(key.removeprefix(controls.FLOOR)))
    return value if key == "max_open_tickets" else usd(value)


def history_rows(changes) -> list[dict]:
    return [
        {
            "at": when(c.at),
            "key": control_name(c.key),
            "old": control_value(c.key, c.old_value),
            "new": control_value(c.key, c.new_value),
            "actor": c.actor,
            "reason": c.reason or "",
        }
        for c in changes
    ]


def register_callbacks(app: Dash) -> None:
    @callback(
        app,
        Output("risk-switch", "children"),
        Output("risk-limits", "children"),
        Output("risk-balances", "children"),
        Output("risk-history", "rowData"),
        Input("risk-tick", "n_intervals"),
        role=VIEWER,
    )
    def refresh(_n):
        desk = current_desk()
        with desk.sessions() as session:
            now = controls.load(session, desk.settings)
            changes = controls.history(session, limit=200)
            last = next((c for c in changes if c.key == "kill_switch"), None)
            return (
                switch_view(now, last),
                limits_view(now, executor.today(session, desk.now())),
                balances_view(session, now),
                history_rows(changes),
            )

    @callback(
        app,
        Output("risk-result", "children"),
        Output("risk-tick", "n_intervals"),
        Output("risk-reason", "value"),
        Input("risk-pause", "n_clicks"),
        Input("risk-resume", "n_clicks"),
        State("risk-reason", "value"),
        State("risk-tick", "n_intervals"),
        prevent_initial_call=True,
        role=ADMIN,
    )
    def switch(_pause, _resume, reason, ticks):
        """Pause or resume: the kill switch every worker reads before each trade."""
        expect(reason, str, type(None), name="reason")
        ticks = expect(ticks, int, type(None), name="n_intervals") or 0
        if not 0 <= ticks < MAX_SAFE_INTEGER:  # checked before the change: its +1 goes back
            raise BadInput("n_intervals is out of range")
        if ctx.triggered_id not in ("risk-pause", "risk-resume"):
            raise BadInput("only the pause and resume buttons change the kill switch")
        try:
            reason = reasons.clean(reason)
        except ValueError:
            said = _(
                "Give a reason of 1 to %(limit)s characters, on one line.", limit=reasons.LIMIT
            )
            return dbc.Alert(said, color="warning"), no_update, no_update
        paused = ctx.triggered_id == "risk-pause"
        desk = current_desk()
        with desk.sessions.begin() as session:
            changed = controls.pause(
                session, paused, actor=current_actor(), now=desk.now(), reason=reason
            )
        if changed is None:  # the reason stays: it explains nothing that happened
            said = (
                _("Trading was already paused; nothing changed.")
                if paused
                else _("Trading was already active; nothing changed.")
            )
            return dbc.Alert(said, color="secondary", id="risk-done"), ticks + 1, no_update
        said = _("Trading paused.") if paused else _("Trading resumed.")
        return dbc.Alert(said, color="info", id="risk-done"), ticks + 1, ""
