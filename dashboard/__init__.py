"""The traders' UI: a Dash app mounted on the desk's Flask server.

Pages are registered here rather than discovered, and each page attaches its callbacks to
this Dash instance, so every app the factory builds (tests build several) is complete.
Every Dash route and callback carries an access decision (see ``dashboard.access``).
"""

from __future__ import annotations

import dash
from dash import Dash, dcc, html
from flask import Flask, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from backend.web import errors
from backend.web.access import PUBLIC, VIEWER, grant
from dashboard import access
from dashboard.components import banner
from dashboard.pages import opportunities, prices, trades

PAGES = (prices, opportunities, trades)

# Dash's own routes, by rule: its scripts and assets are public, everything else needs a
# login; the callback route also checks the callback itself.
ROUTES = {
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": PUBLIC,
    "/_favicon.ico": PUBLIC,
    "/assets/<path:filename>": PUBLIC,
    "/_dash-layout": VIEWER,
    "/_dash-dependencies": VIEWER,
    "/_reload-hash": VIEWER,
    "/_dash-update-component": VIEWER,
    "/": VIEWER,
    "/<path:path>": VIEWER,
}


def shell() -> html.Div:
    """The frame of every page, built per request: it names who is logged in."""
    who = f"{current_user.username} · {current_user.role}" if current_user.is_authenticated else ""
    return html.Div(
        [
            html.Header(
                [
                    html.Span("P2P Exchange Desk", className="brand"),
                    html.Nav([dcc.Link(p.NAME, href=p.PATH, className="nav-link") for p in PAGES]),
                    html.Form(
                        [
                            html.Span(who, id="whoami", className="whoami"),
                            dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
                            html.Button("Log out", type="submit", id="logout", className="logout"),
                        ],
                        action="/logout",
                        method="POST",
                        className="session",
                    ),
                ],
                className="topbar",
            ),
            banner.banner(),
            html.Main(dash.page_container, className="content"),
        ]
    )


def _known_pages_only(index):
    """Dash answers every path with its page; an unknown one is a 404 here (405 when a
    route serves that path with another method, e.g. GET /logout)."""
    paths = {page.PATH for page in PAGES}

    def view(path: str):
        if request.path.rstrip("/") not in paths:
            errors.unmatched()
        return index(path=path)

    return view


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
    server.extensions["dash"] = app
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
    app.layout = shell
    for rule in server.url_map.iter_rules():
        if rule.rule in ROUTES:
            check = (
                access.check_callback_request if rule.rule == "/_dash-update-component" else None
            )
            grant(server, rule.endpoint, ROUTES[rule.rule], check)
    index = server.view_functions[errors.DASH_CATCH_ALL]
    server.view_functions[errors.DASH_CATCH_ALL] = _known_pages_only(index)
    # Dash finishes its setup (scripts, the pages' routing callbacks and an inline script
    # the CSP must hash) in before-request hooks of the first request, without a lock, so
    # concurrent first requests on a threaded worker saw half-registered scripts. Run
    # those hooks now, before any real request and before the CSP is built.
    with server.test_request_context("/_favicon.ico"):
        server.preprocess_request()
    return app
