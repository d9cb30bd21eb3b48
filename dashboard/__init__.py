"""The traders' UI: a Dash app mounted on the desk's Flask server.

Pages are registered here rather than discovered, and each page attaches its callbacks to
this Dash instance, so every app the factory builds (tests build several) is complete.
Every Dash route and callback carries an access decision (see ``dashboard.access``).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, dcc, html
from flask import Flask, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from backend.web import errors
from backend.web.access import PUBLIC, VIEWER, grant
from dashboard import access, answers, i18n
from dashboard.components import banner
from dashboard.i18n import _, _l, role_name
from dashboard.pages import market, opportunities, prices, rates, risk, system, trades

PAGES = (prices, opportunities, trades, rates, risk, system, market)
# The header's links: path, id suffix, label (translated when the header is built).
NAV = (
    ("/", "prices", _l("Prices")),
    ("/opportunities", "opportunities", _l("Opportunities")),
    ("/trades", "trades", _l("Trades")),
    ("/rates", "rates", _l("Rates")),
    ("/risk", "risk", _l("Risk")),
    ("/system", "system", _l("System")),
)


def _title(name: str):
    """The browser tab's title in the reader's language: Dash calls it per page view
    (with the path's variables), where a plain string is fixed at registration."""

    def title(**_path_variables) -> str:
        return _(name)

    return title


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


def _session_forms() -> list:
    """Who is logged in, the language switch (ES/EN) and log out: plain POST forms."""
    if not current_user.is_authenticated:
        return []
    token, here, role = generate_csrf(), i18n.locale(), current_user.role
    return [
        html.Span(
            [current_user.username, " · ", dbc.Badge(role_name(role))],
            id="whoami",
            className="whoami",
        ),
        html.Form(
            [
                dcc.Input(type="hidden", name="csrf_token", value=token),
                dbc.ButtonGroup(
                    [
                        html.Button(
                            code.upper(),
                            type="submit",
                            name="locale",
                            value=code,
                            id=f"locale-{code}",
                            title=title,
                            className="btn btn-sm "
                            + ("btn-light" if code == here else "btn-outline-light"),
                        )
                        for code, title in (("es", "Español"), ("en", "English"))
                    ],
                    size="sm",
                ),
            ],
            action="/locale",
            method="POST",
            id="locale-switch",
        ),
        html.Form(
            [
                dcc.Input(type="hidden", name="csrf_token", value=token),
                html.Button(
                    _("Log out"),
                    type="submit",
                    id="logout",
                    className="btn btn-sm btn-outline-secondary",
                ),
            ],
            action="/logout",
            method="POST",
        ),
    ]


def shell() -> html.Div:
    """The frame of every page, built per request: it names who is logged in, in the
    language they chose."""
    nav = [
        dbc.NavItem(dbc.NavLink(str(label), href=path, active="exact", id=f"nav-{slug}"))
        for path, slug, label in NAV
    ]
    return html.Div(
        [
            dbc.Navbar(
                dbc.Container(
                    [
                        dbc.NavbarBrand("P2P Exchange Desk", href="/", className="brand"),
                        dbc.NavbarToggler(id="nav-toggle", n_clicks=0),
                        dbc.Collapse(
                            [
                                dbc.Nav(nav, navbar=True, className="me-auto"),
                                html.Div(_session_forms(), className="session"),
                            ],
                            id="nav-collapse",
                            navbar=True,
                            is_open=False,
                        ),
                    ],
                    fluid=True,
                ),
                color="dark",
                dark=True,
                expand="lg",
                className="topbar",
            ),
            banner.banner(),
            html.Main(dash.page_container, className="content container-fluid"),
        ],
        lang=i18n.locale(),
    )


def _known_pages_only(index):
    """Dash answers every path with its page; an unknown one is a 404 here (405 when a
    route serves that path with another method, e.g. GET /logout)."""
    paths = {page.PATH for page in PAGES}

    def view(path: str):
        here = request.path.rstrip("/") or "/"
        if here not in paths and not market.known(here):
            errors.unmatched()
        return index(path=path)

    return view


def _register_toggle(app: Dash) -> None:
    @access.callback(
        app,
        Output("nav-collapse", "is_open"),
        Input("nav-toggle", "n_clicks"),
        State("nav-collapse", "is_open"),
        prevent_initial_call=True,
        role=VIEWER,
    )
    def toggle(_n, is_open):
        """The menu folds behind a button on a phone."""
        return not access.expect(is_open, bool, type(None), name="is_open")


def _in_the_reader_language(app: Dash) -> None:
    """Each page names its language on <html lang>: screen readers read it so, Chromium
    offers no translation of Spanish it already shows, and the date picker's month names
    follow it (assets/date-fns/language.js)."""
    render = app.interpolate_index

    def interpolate_index(**kwargs) -> str:
        return render(**kwargs).replace("<html ", f'<html lang="{i18n.locale()}" ', 1)

    app.interpolate_index = interpolate_index


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
    app.index_string = app.index_string.replace("<html>", '<html data-bs-theme="dark">', 1)
    _in_the_reader_language(app)
    server.extensions["dash"] = app
    for order, page in enumerate(PAGES):
        template = "<" in page.PATH
        dash.register_page(
            page.__name__,
            path=None if template else page.PATH,
            path_template=page.PATH if template else None,
            name=page.NAME,
            title=_title(page.NAME),
            layout=page.layout,
            order=order,
        )
        page.register_callbacks(app)
    banner.register_callbacks(app)
    _register_toggle(app)
    app.layout = shell
    for rule in server.url_map.iter_rules():
        if rule.rule in ROUTES:
            check = (
                access.check_callback_request if rule.rule == "/_dash-update-component" else None
            )
            grant(server, rule.endpoint, ROUTES[rule.rule], check)
    answers.install(server)
    index = server.view_functions[errors.DASH_CATCH_ALL]
    server.view_functions[errors.DASH_CATCH_ALL] = _known_pages_only(index)
    # Dash finishes its setup (scripts, the pages' routing callbacks and an inline script
    # the CSP must hash) in before-request hooks of the first request, without a lock, so
    # concurrent first requests on a threaded worker saw half-registered scripts. Run
    # those hooks now, before any real request and before the CSP is built.
    with server.test_request_context("/_favicon.ico"):
        server.preprocess_request()
    return app
