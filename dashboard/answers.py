"""A callback's answer kept in front of Dash's dispatch, for a callback every viewer polls.

Parsing the body, Dash's callback context and serializing the outputs cost more than the
Prices board itself, and within one second every viewer of the board gets the same
answer. A callback registered here (``keep``) is answered from the response bytes this
process made last for the same inputs it reads, language and role, while the state its
answer depends on (``state()``, e.g. every market's book, error and age in whole seconds)
is unchanged. The guard, the access check and CSRF have run before this view, as for
any callback; only a 200 Dash made is kept, so an error is made again every time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from flask import Flask, Response, request
from flask_login import current_user

from backend.web.locale import select_locale

DISPATCH = "/_dash-update-component"  # Dash names its routes by their rule
MAX_KEPT = 256  # a key carries values a client chose


@dataclass(frozen=True)
class Kept:
    """One callback's rule: which inputs its answer reads, and what else it depends on."""

    reads: frozenset[str]  # input ids whose values the answer depends on
    state: Callable[[], Hashable]  # the rest of what it depends on, read per request


def keep(server: Flask, output: str, reads: tuple[str, ...], state: Callable[[], Hashable]):
    """Answer the callback of ``output`` from kept answers (see the module's docstring)."""
    if output not in server.extensions["dash"].callback_map:
        raise ValueError(f"no callback has the output {output!r}")
    server.extensions.setdefault("kept_answers", {})[output] = Kept(frozenset(reads), state)


def _key(output: str, kept: Kept, body: dict) -> tuple | None:
    """The inputs it reads as given, with language (the code Flask-Babel's locale is
    parsed from: not parsed here) and role; None if one is not text (then Dash answers,
    and most likely refuses)."""
    values = tuple(
        item.get("value") for item in body.get("inputs", ()) if item.get("id") in kept.reads
    )
    if not all(isinstance(v, str) for v in values):
        return None
    return output, values, select_locale(), current_user.role


def install(server: Flask) -> None:
    """Put the kept answers in front of Dash's callback view (after every before-request
    hook: authentication, the callback's access check, CSRF, throttling)."""
    dispatch = server.view_functions[DISPATCH]
    rules: dict[str, Kept] = server.extensions.setdefault("kept_answers", {})
    answers: dict[tuple, tuple[Hashable, bytes, str]] = {}

    def view(*args, **kwargs):
        body = request.get_json(silent=True)  # parsed once already by the access check
        output = body.get("output") if isinstance(body, dict) else None
        kept = rules.get(output) if isinstance(output, str) else None
        key = kept and _key(output, kept, body)
        if key is None:
            return dispatch(*args, **kwargs)
        state = kept.state()
        found = answers.get(key)
        if found is not None and found[0] == state:
            return Response(found[1], content_type=found[2])
        response = dispatch(*args, **kwargs)
        if response.status_code == 200 and "Set-Cookie" not in response.headers:
            if len(answers) >= MAX_KEPT:
                answers.clear()
            answers[key] = (state, response.get_data(), response.content_type)
        return response

    server.view_functions[DISPATCH] = view
