"""Hostile values in every callback's inputs: the page's own answer or a 400 that names
what is wrong, never a 500 (a hand-crafted POST to /_dash-update-component reaches the
callbacks as easily as the renderer does)."""

from __future__ import annotations

import json
from collections import Counter

from dash._utils import split_callback_id

from tests.conftest import api_client

HOSTILE = [
    None,
    "",
    "x" * 20_000,
    -1,
    10**30,
    1e308,
    "NaN",
    "-Infinity",
    "1e-30",
    "١٢٣",  # Arabic-Indic digits
    "\x00\ud800",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    True,
    {"a": {"b": [1]}},
    [1, [2]],
    [None, None, None],
]


def _given(slot: dict, value, key=1):
    """A slot as the renderer sends it; a pattern-matched (ALL) slot as one component whose
    wildcard key is ``key``."""
    if not slot["id"].startswith("{"):
        return {"id": slot["id"], "property": slot["property"], "value": value}
    pattern = json.loads(slot["id"])
    wildcard = next(k for k, v in pattern.items() if isinstance(v, list))
    return [{"id": {**pattern, wildcard: key}, "property": slot["property"], "value": value}]


def _prop_id(given) -> str:
    item = given[0] if isinstance(given, list) else given
    ident = item["id"]
    if isinstance(ident, dict):
        ident = json.dumps(ident, sort_keys=True, separators=(",", ":"))
    return f"{ident}.{item['property']}"


def _bodies(callback: dict):
    """One body per (slot, hostile value): the value in that slot, or as a pattern-matched
    component's key; the other slots empty, as before a page has filled them."""
    inputs, state = callback["inputs"], callback.get("state", [])
    slots = inputs + state
    for k, slot in enumerate(slots):
        trials = [(value, 1) for value in HOSTILE]
        if slot["id"].startswith("{"):
            trials += [(1, key) for key in HOSTILE]
        for value, key in trials:
            given = [
                _given(s, value, key) if j == k else _given(s, None) for j, s in enumerate(slots)
            ]
            trigger = given[k] if k < len(inputs) else given[0]
            yield {
                "output": callback["output"],
                "outputs": split_callback_id(callback["output"]),
                "inputs": given[: len(inputs)],
                "state": given[len(inputs) :],
                "changedPropIds": [_prop_id(trigger)],
            }


def test_no_callback_answers_a_hostile_value_with_a_500(app):
    admin = api_client(app, "admin")  # every callback is open to an admin
    callbacks = admin.get("/_dash-dependencies").json
    assert len(callbacks) >= 30  # the sweep really covers the pages' callbacks
    answers, crashes = Counter(), []
    for callback in callbacks:
        for body in _bodies(callback):
            r = admin.post("/_dash-update-component", json=body)
            answers[r.status_code] += 1
            if r.status_code >= 500:
                crashes.append((callback["output"], body["changedPropIds"], r.status_code))
            elif r.status_code == 400:
                assert r.is_json and r.json["error"], json.dumps(body)[:300]
    assert crashes == []
    assert answers[200] and answers[400], answers  # both paths were reached
