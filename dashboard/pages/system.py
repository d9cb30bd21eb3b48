"""System: is every part of the desk up, how fast does it answer, are the workers alive
and the queues draining; with the way to Grafana, Prometheus and RabbitMQ, and Grafana's
own panels embedded when GRAFANA_URL is set."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html

from backend.desk import current_desk
from backend.ops import system
from backend.web import health
from backend.web.access import VIEWER
from dashboard.access import callback
from dashboard.components.format import MISSING, number, seconds
from dashboard.i18n import _, _l, when

PATH = "/system"
NAME = "System"
COMPONENTS = {
    "db": _l("Database"),
    "redis": _l("Redis"),
    "rabbitmq": _l("RabbitMQ"),
    "celery": _l("Celery workers"),
}
TOOLS = {
    "grafana:p2p-system-overview": _l("Grafana: system overview"),
    "grafana:p2p-performance": _l("Grafana: performance"),
    "grafana:p2p-business": _l("Grafana: business"),
    "prometheus": _l("Prometheus"),
    "alerts": _l("Prometheus alerts"),
    "rabbitmq": _l("RabbitMQ management"),
}
STATES = {"ok": _l("up"), "down": _l("down"), health.NOT_CONFIGURED: _l("not configured")}


def layout(**_kw):
    settings = current_desk().settings
    return html.Div(
        [
            html.H1(_("System")),
            html.P(
                _("Health is probed every second by each web process; this page reads it."),
                className="hint",
            ),
            dcc.Interval(id="system-tick", interval=3000),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.H2(_("Components")),
                            html.Div(id="system-components", className="scroll-x"),
                        ],
                        lg=6,
                    ),
                    dbc.Col(
                        [
                            html.H2(_("Workers")),
                            html.Div(id="system-workers", className="scroll-x"),
                            html.H2(_("Queues")),
                            html.Div(id="system-queues", className="scroll-x"),
                        ],
                        lg=6,
                    ),
                ]
            ),
            html.H2(_("Tools")),
            links_view(settings),
            panels_view(settings),
        ]
    )


def links_view(settings) -> html.Div:
    items = []
    for tool, url in system.links(settings).items():
        title = str(TOOLS.get(tool, tool))
        if url:
            items.append(
                html.A(
                    title,
                    href=url,
                    target="_blank",
                    rel="noopener",
                    className="btn btn-outline-info btn-sm me-2 mb-2",
                )
            )
        else:
            items.append(
                dbc.Badge(
                    _("%(tool)s: not configured", tool=title),
                    color="secondary",
                    className="me-2 mb-2",
                )
            )
    return html.Div(items, id="system-links")


def panels_view(settings) -> html.Div | None:
    panels = system.grafana_panels(settings)
    if not panels:
        return html.P(
            _("Set GRAFANA_URL to embed Grafana's panels here (see README, Operations)."),
            className="hint",
            id="system-no-panels",
        )
    return dbc.Row(
        [
            dbc.Col(
                html.Iframe(src=url, title=title, className="grafana-panel"),
                lg=6,
                className="mb-3",
            )
            for title, url in panels
        ],
        id="system-panels",
    )


def components_view(result: dict) -> html.Table:
    rows = []
    for name, entry in result["components"].items():
        status = entry["status"]
        rows.append(
            html.Tr(
                [
                    html.Td(str(COMPONENTS.get(name, name))),
                    html.Td(
                        html.Span(
                            str(STATES.get(status, status)),
                            className="badge " + {"ok": "live", "down": "failed"}.get(status, ""),
                        )
                    ),
                    html.Td(  # nothing probed: no latency to show
                        MISSING
                        if status == health.NOT_CONFIGURED
                        else number(entry.get("latency_ms", 0), 1, "ms")
                    ),
                    html.Td(entry.get("error", ""), className="text-start"),
                ],
                id=f"system-{name}",
            )
        )
    head = [_("Component"), _("Status"), _("Latency"), _("Error")]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        className="grid",
        id="system-components-table",
    )


def workers_view(beats: list[system.WorkerBeat]) -> html.Table | html.P:
    if not beats:
        return html.P(_("No worker has sent a heartbeat yet."), className="hint")
    head = [_("Worker"), _("Last heartbeat"), _("Age"), _("Status")]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head]))]
        + [
            html.Tr(
                [
                    html.Td(b.name),
                    html.Td(when(b.at)),
                    html.Td(seconds(b.age_seconds)),
                    html.Td(
                        html.Span(
                            _("alive") if b.alive else _("silent"),
                            className="badge " + ("live" if b.alive else "stale"),
                        )
                    ),
                ]
            )
            for b in beats
        ],
        className="grid",
        id="system-workers-table",
    )


def queues_view(rabbitmq: dict) -> html.Table | html.P:
    depths = rabbitmq.get("queues")
    if rabbitmq["status"] == health.NOT_CONFIGURED:
        return html.P(
            _("Embedded desk: tasks wait in the SQLite queue beside the database."),
            className="hint",
        )
    if not depths:
        return html.P(_("Queue depths unknown while RabbitMQ is down."), className="hint")
    head = [_("Queue"), _("Waiting"), _("Being worked on")]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head]))]
        + [
            html.Tr([html.Td(name), html.Td(d["ready"]), html.Td(d["unacked"])])
            for name, d in sorted(depths.items())
        ],
        className="grid",
        id="system-queues-table",
    )


def register_callbacks(app: Dash) -> None:
    @callback(
        app,
        Output("system-components", "children"),
        Output("system-workers", "children"),
        Output("system-queues", "children"),
        Input("system-tick", "n_intervals"),
        role=VIEWER,
    )
    def refresh(_n):
        desk = current_desk()
        result = health.check(list(health.PROBES))
        with desk.sessions() as session:
            beats = system.worker_beats(session, desk.now())
        return (
            components_view(result),
            workers_view(beats),
            queues_view(result["components"]["rabbitmq"]),
        )
