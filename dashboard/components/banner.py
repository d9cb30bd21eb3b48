"""A banner over every page when a component the desk needs is down, or trading is
paused: degrade visibly, wherever the trader is looking."""

from __future__ import annotations

from dash import Dash, Input, Output, dcc, html

from backend.desk import current_desk
from backend.trading import controls
from backend.web import health
from backend.web.access import VIEWER
from dashboard.access import callback
from dashboard.i18n import _, _l

CONSEQUENCES = {  # in the reader's language, as the rest of the page
    "db": _l("nothing can be read or stored"),
    "celery": _l("prices stop updating and trades will not execute"),
    "redis": _l("latest prices come from the database"),
    "rabbitmq": _l("trades cannot be queued; requests wait in the outbox"),
}


def banner() -> html.Div:
    return html.Div(
        [dcc.Interval(id="health-tick", interval=5000), html.Div(id="health-banner", role="alert")]
    )


def register_callbacks(app: Dash) -> None:
    @callback(
        app, Output("health-banner", "children"), Input("health-tick", "n_intervals"), role=VIEWER
    )
    def refresh(_n):
        result = health.check(list(health.PROBES))
        down = [
            (name, c.get("error", ""))
            for name, c in result["components"].items()
            if c["status"] == "down"
        ]
        lines = [
            html.Div(
                _(
                    "%(component)s is down (%(error)s): %(consequence)s.",
                    component=name,
                    error=error,
                    consequence=CONSEQUENCES[name],
                )
            )
            for name, error in down
        ]
        if "db" not in dict(down) and _paused():  # the database away: its line says enough
            paused = _("The kill switch is on: no trade executes until an admin resumes.")
            lines.insert(0, html.Div(paused, id="banner-paused"))
        return html.Div(lines, className="banner") if lines else None


def _paused() -> bool:
    desk = current_desk()
    with desk.sessions() as session:
        return controls.load(session, desk.settings).kill_switch
