"""System: health, workers, queues and dashboards (the page is built on branch ui2)."""

from __future__ import annotations

from dash import Dash, html

from dashboard.i18n import _

PATH = "/system"
NAME = "System"


def layout(**_kw):
    return html.Div([html.H1(_("System"))])


def register_callbacks(app: Dash) -> None:
    """No callbacks yet."""
