"""The traders' UI: a Dash app mounted on the desk's Flask server.

Pages are registered here rather than discovered, and each page attaches its callbacks to
this Dash instance, so every app the factory builds (tests build several) is complete.
"""

from __future__ import annotations

import dash
from dash import Dash, dcc, html
from flask import Flask

from dashboard.components import banner
from dashboard.pages import opportunities, prices, trades

PAGES = (prices, opportunities, trades)


def init_dashboard(server: Flask) -> Dash:
    app = Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder="",
        url_base_pathname="/",
        title="P2P Exchange Desk",
        update_title=None,
        suppress_callback_exceptions=True,
    )
    for order, page in enumerate(PAGES):
        dash.register_page(
            page.__name__,
            path=page.PATH,
            name=page.NAME,
            title=page.NAME,
            layout=page.layout,
            order=order,
        )
        page.register_callbacks(app)
    banner.register_callbacks(app)
    app.layout = html.Div(
        [
            html.Header(
                [
                    html.Span("P2P Exchange Desk", className="brand"),
                    html.Nav([dcc.Link(p.NAME, href=p.PATH, className="nav-link") for p in PAGES]),
                ],
                className="topbar",
            ),
            banner.banner(),
            html.Main(dash.page_container, className="content"),
        ]
    )
    return app
