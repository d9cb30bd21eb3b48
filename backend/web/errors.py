"""Clear answers to bad requests: JSON under /api/ and for Dash callbacks, a page
elsewhere; never an HTML 500 for what a client sent.

Bodies are capped (413, MAX_REQUEST_BYTES), JSON nested too deep for the parser is a 400,
and an unknown /api/ path is a JSON 404 (or 405 when the path exists for other methods)
rather than Dash's catch-all page.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, NotFound

from backend.web.access import PUBLIC, access

log = logging.getLogger(__name__)


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


def _answer(status: int, message: str, headers: dict | None = None) -> Response:
    if json_wanted():
        response = jsonify(error=message, status=status)
    else:
        response = Response(
            render_template("error.html", status=status, message=message), mimetype="text/html"
        )
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _http_error(exc: HTTPException) -> Response:
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


@access(PUBLIC)
def unknown_api_path(rest: str) -> Response:
    """/api/... that no route serves: 405 if the path exists for other methods, else 404."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    methods = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "unknown_api_path":
            methods.add(method)
    if methods:
        raise MethodNotAllowed(valid_methods=sorted(methods | {"OPTIONS"}))
    raise NotFound(f"no such API route: {request.path[:200]}")


def init_app(app: Flask) -> None:
    app.json = SafeJSONProvider(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.add_url_rule(
        "/api/<path:rest>",
        "unknown_api_path",
        unknown_api_path,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    )
