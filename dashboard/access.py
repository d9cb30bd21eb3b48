"""Who may run each callback, enforced on the server before Dash runs it.

Every callback is registered through ``callback(app, ..., role=...)``. The guard reads
the posted ``output``, refuses a body that does not match what the callback declared,
and refuses a callback the user's role may not run, whatever the page showed. Callbacks
check the values they receive with ``expect``: a malformed payload is a 400 with a
message, never a 500.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable

from dash import Dash
from dash._utils import split_callback_id
from flask import Flask, current_app, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest, Forbidden

from backend.trading.trades import MAX_ID
from backend.web.access import VIEWER, allowed

PAGES_CONTENT = ".._pages_content.children..._pages_store.data.."
# Dash's own callbacks (multi-page routing, the page title): viewing, nothing more.
DASH_OWN = {
    PAGES_CONTENT: VIEWER,
    "_pages_dummy.children": VIEWER,
}
MAX_OUTPUT_KEY = 2000
MAX_SAFE_INTEGER = 2**53 - 1  # the largest int Dash sends back to the browser


class BadInput(ValueError):
    """A callback received a value its component could never send."""


def expect(value: object, *types: type, name: str = "value") -> object:
    """``value`` if it is one of ``types`` (``type(None)`` allows None), else BadInput."""
    if isinstance(value, bool) and bool not in types:
        raise BadInput(f"{name} has the wrong type")
    if not isinstance(value, types):
        raise BadInput(f"{name} has the wrong type")
    return value


def expect_id(value: object, name: str) -> int:
    """A row id: an int the 32-bit id columns can hold. A larger one is no row, and
    looking it up would fail in the driver (a 500) rather than find nothing."""
    expect(value, int, name=name)
    if not 1 <= value <= MAX_ID:
        raise BadInput(f"unknown {name}")
    return value


def expect_time(value: object, name: str) -> float | None:
    """A Unix time the page stored (or None). An int too large for a float, NaN or an
    infinity is no time, and subtracting it from now would fail (a 500) or never expire."""
    expect(value, int, float, type(None), name=name)
    if value is None:
        return None
    try:
        stamp = float(value)
    except OverflowError:
        raise BadInput(f"{name} is not a time") from None
    if not math.isfinite(stamp):
        raise BadInput(f"{name} is not a time")
    return stamp


def registry(server: Flask) -> dict[str, str]:
    return server.extensions.setdefault("callback_access", dict(DASH_OWN))


def callback(app: Dash, *dependencies, role: str, **kwargs) -> Callable:
    """``app.callback`` that records who may run it and turns BadInput into a 400."""

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def checked(*args, **kw):
            try:
                return fn(*args, **kw)
            except BadInput as exc:
                raise BadRequest(f"malformed callback input: {exc}") from None

        before = set(app.callback_map)
        app.callback(*dependencies, **kwargs)(checked)
        for key in set(app.callback_map) - before:
            registry(app.server)[key] = role
        return fn

    return register


def clientside_callback(app: Dash, function, *dependencies, role: str, **kwargs) -> None:
    """``app.clientside_callback`` with its access decision recorded: it runs in the
    browser, but every callback in the map carries one (and the test checks)."""
    before = set(app.callback_map)
    app.clientside_callback(function, *dependencies, **kwargs)
    for key in set(app.callback_map) - before:
        registry(app.server)[key] = role


def _is_dependency(item: object) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str | dict)
        and isinstance(item.get("property"), str)
    )


def _pattern(declared_id: str) -> tuple[frozenset, bool] | None:
    """A pattern id's keys and whether it names many components (``ALL``,
    ``ALLSMALLER``: a list is sent) or one (``MATCH``, or no wildcard)."""
    if not declared_id.startswith("{"):
        return None
    parts = json.loads(declared_id)
    many = any(v in (["ALL"], ["ALLSMALLER"]) for v in parts.values())
    return frozenset(parts), many


def _one(want: dict, got: object) -> bool:
    """``got`` is the dependency ``want`` declared: its id and property, or for a
    pattern an id object with the pattern's keys."""
    if not _is_dependency(got) or got["property"] != want["property"]:
        return False
    pattern = _pattern(want["id"])
    if pattern is None:
        return got["id"] == want["id"]
    return isinstance(got["id"], dict) and frozenset(got["id"]) == pattern[0]


def _sent_as_declared(want: dict, got: object) -> bool:
    pattern = _pattern(want["id"])
    if pattern is not None and pattern[1]:  # ALL: a list (maybe empty) of matches
        return isinstance(got, list) and all(_one(want, g) for g in got)
    return _one(want, got)


def _matches(declared: list[dict], sent: object) -> bool:
    if not isinstance(sent, list) or len(sent) != len(declared):
        return False
    return all(_sent_as_declared(w, g) for w, g in zip(declared, sent, strict=True))


def _outputs_match(key: str, sent: object) -> bool:
    expected = split_callback_id(key)
    if isinstance(expected, dict):
        expected, sent = [expected], [sent]
    return _matches(expected, sent)


def _trigger_readable(changed: str) -> bool:
    """Dash parses a pattern trigger's id as JSON (``ctx.triggered_id``): a 500 if not."""
    if not changed.startswith("{"):
        return True
    try:
        return isinstance(json.loads(changed.rsplit(".", 1)[0]), dict)
    except ValueError:
        return False


def _check_location(inputs: list[dict]) -> None:
    """Dash's page router takes the browser's location as given and fails (500) on a
    pathname that is not a path or a search that is not a string: refuse those here."""
    values = {item["property"]: item.get("value") for item in inputs}
    pathname, search = values.get("pathname"), values.get("search")
    if not isinstance(pathname, str) or not pathname.startswith("/"):
        raise BadRequest("malformed callback input: pathname must be a path starting with /")
    if search is not None and not isinstance(search, str):
        raise BadRequest("malformed callback input: search has the wrong type")


def check_callback_request() -> None:
    """Before Dash's dispatch: a well-formed body for a callback this user may run."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        raise BadRequest('a callback request is a JSON object with an "output"')
    key = body["output"]
    spec = (
        current_app.extensions["dash"].callback_map.get(key) if len(key) < MAX_OUTPUT_KEY else None
    )
    if spec is None:
        raise BadRequest("unknown callback output")
    if "callback" not in spec:  # clientside: Dash has no server function and would 500
        raise BadRequest("unknown callback output: this callback runs in the browser")
    role = registry(current_app).get(key)
    if role is None:
        raise Forbidden("this callback has no access decision; it is closed")
    if not allowed(current_user.role, role):
        raise Forbidden(
            f"this needs the {role} role; {current_user.username} is {current_user.role}"
        )
    if not _matches(spec["inputs"], body.get("inputs")) or not _matches(
        spec.get("state", []), body.get("state", [])
    ):
        raise BadRequest("the callback's inputs do not match what it declared")
    if not _outputs_match(key, body.get("outputs")):
        raise BadRequest("the callback's outputs do not match what it declared")
    if key == PAGES_CONTENT:
        _check_location(body["inputs"])
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(
        isinstance(c, str) and _trigger_readable(c) for c in changed
    ):
        raise BadRequest("changedPropIds must be a list of component.property strings")
