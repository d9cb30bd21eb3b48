"""A banner over every page when a component the desk needs is down: degrade visibly."""

from __future__ import annotations

from dash import Dash, Input, Output, dcc, html

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
        if not down:
            return None
        return html.Div(
            [
                html.Div(
                    _(
                        "%(component)s is down (%(error)s): %(consequence)s.",
                        component=name,
                        error=error,
                        consequence=CONSEQUENCES[name],
                    )
                )
                for name, error in down
            ],
            className="banner",
        )
