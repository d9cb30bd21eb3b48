"""Rates: the corridor board and the client message (the page is built on branch ui2)."""

from __future__ import annotations

from dash import Dash, html

from dashboard.i18n import _

PATH = "/rates"
NAME = "Rates"


def layout(**_kw):
    return html.Div([html.H1(_("Rates"))])


def register_callbacks(app: Dash) -> None:
    """No callbacks yet."""
