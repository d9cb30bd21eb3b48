"""Text with a NUL character (U+0000) is refused at the edge with a 400.

PostgreSQL text cannot hold it: psycopg raises DataError when one reaches a query, so a
reason, a filter or an idempotency key holding ``\\x00`` was a 500 on the production
database (SQLite stores it silently). No field of the desk has a use for it, so the
path, query string, headers, form and JSON body (keys and values) are checked once,
before any view or Dash callback reads them.
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

NUL = "\x00"


def _holds_nul(value: object) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def refuse_nul() -> None:
    form = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
    if (
        NUL in request.path
        or any(_holds_nul(values) for values in request.args.listvalues())
        or any(NUL in value for value in request.headers.values())
        or (form and any(_holds_nul(values) for values in request.form.listvalues()))
        or (request.is_json and _holds_nul(request.get_json(silent=True)))
    ):
        raise BadRequest(_("the request holds a NUL character (U+0000), which no field accepts"))


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)
