"""Clear answers to bad requests: JSON under /api/ and for Dash callbacks, a page
elsewhere; never an HTML 500 for what a client sent.

Bodies are capped (413, MAX_REQUEST_BYTES), JSON nested too deep for the parser is a 400,
and a path only Dash's catch-all page matches is a 404 (405 when a real route serves it
with other methods), JSON under /api/.
"""

from __future__ import annotations

import logging

from dash.exceptions import DependencyException
from flask import Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, NotFound

from backend.web import locale

log = logging.getLogger(__name__)

DASH_CATCH_ALL = "/<path:path>"  # Dash names its routes by their rule
# The heading of the error page, in the reader's language.
TITLES = {
    400: _l("Bad request"),
    401: _l("Log in first"),
    403: _l("Not allowed"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    413: _l("Request too large"),
    429: _l("Too many requests"),
    500: _l("Internal error"),
    503: _l("Temporarily unavailable"),
}


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but input nested deeper than the parser's stack is a 400, not a 500.
    (Malformed JSON already is: Werkzeug turns the ValueError into a 400.)"""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise BadRequest("the JSON body is nested too deeply") from None


def json_wanted() -> bool:
    return request.path.startswith(("/api/", "/_dash-")) or (
        request.accept_mimetypes.best == "application/json"
    )


def page(status: int, message: str) -> Response:
    """The HTML error page, titled in the reader's language."""
    title = str(TITLES.get(status, ""))
    # Not render_template: its context processors include Flask-Login's, which loads the
    # user from the database, so with the database away the 503 page itself raised (a
    # bare 500 from gunicorn). The page needs only its own values and the locale.
    template = current_app.jinja_env.get_template("error.html")
    html = template.render(status=status, title=title, message=message, locale=locale.current())
    return Response(html, mimetype="text/html")


def not_found() -> NotFound:
    if api():
        return NotFound(f"no such API route: {request.path[:200]}")
    return NotFound(_("no such page: %(path)s", path=request.path[:200]))


def _answer(status: int, message: str, headers: dict | None = None) -> Response:
    response = jsonify(error=message, status=status) if json_wanted() else page(status, message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _http_error(exc: HTTPException) -> Response:
    if isinstance(exc, MethodNotAllowed) and not real_methods():
        exc = NotFound()  # only Dash's catch-all (GET) knows this path: it does not exist
    if isinstance(exc, NotFound) and exc.description == NotFound.description:
        exc = not_found()
    headers = dict(exc.get_headers()) if exc.code in (405, 429) else {}
    headers.pop("Content-Type", None)
    if exc.code == 429:
        retry = getattr(exc, "retry_after", None) or headers.get("Retry-After")
        message = "too many requests" + (f"; try again in {retry} s" if retry else "")
        if retry:
            headers["Retry-After"] = str(retry)
        return _answer(429, message, headers)
    return _answer(exc.code or 500, exc.description or exc.name, headers)


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path[:200])
    return _answer(500, "internal error; it has been logged")


def api() -> bool:
    return request.path.startswith("/api/")


def real_methods() -> set[str]:
    """Methods some route other than Dash's catch-all page serves this path with."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    methods = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != DASH_CATCH_ALL:
            methods.add(method)
    return methods


def unmatched() -> None:
    """For Dash's catch-all on a path that is no page: 405 if a real route serves the
    path with other methods (GET /logout), else 404."""
    methods = real_methods()
    if methods:
        raise MethodNotAllowed(valid_methods=sorted(methods | {"HEAD", "OPTIONS"}))
    raise not_found()


def _honest_allow(response: Response) -> Response:
    """Flask's automatic OPTIONS lists Dash's catch-all GET for every path; list only the
    methods a real route serves."""
    if request.method == "OPTIONS" and "Allow" in response.headers:
        methods = real_methods()
        if methods:
            if "GET" in methods:
                methods.add("HEAD")
            response.headers["Allow"] = ", ".join(sorted(methods | {"OPTIONS"}))
    return response


def _unknown_asset(exc: DependencyException) -> Response:
    """Dash raises this for any /_dash-component-suites/ path it does not serve (a
    library or file it never registered, ``..`` included): that is a 404, not a 500."""
    return _http_error(NotFound(_("no such page: %(path)s", path=request.path[:200])))


def init_app(app: Flask) -> None:
    app.after_request(_honest_allow)
    app.json = SafeJSONProvider(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DependencyException, _unknown_asset)
    app.register_error_handler(Exception, _unexpected)
