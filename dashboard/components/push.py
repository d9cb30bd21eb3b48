"""A page's live feed: server-sent events from /api/v1/stream when the desk has Redis,
and an Interval that polls every 2 s whenever the stream is not open (slowly as a safety
net while it is).

A page lists ``Input(f"{name}-push", "data")`` and ``Input(f"{name}-tick",
"n_intervals")`` among its refresh inputs. ``assets/push.js`` keeps one EventSource per
feed outside React's renders (dash-extensions' EventSource reconnects on every re-render,
and each abandoned stream holds a server thread until its next write fails).
"""

from __future__ import annotations

from dash import Dash, Input, Output, dcc, html

from backend import push
from backend.desk import current_desk
from backend.web.access import VIEWER
from dashboard.access import callback, expect

POLL_MS = 2000
SAFETY_MS = 15000  # with the stream open, a poll still catches anything it missed


def listener(name: str, kinds: list[str]) -> list:
    url = f"/api/v1/stream?kinds={','.join(kinds)}"
    if not push.available(current_desk().cache):
        url = ""  # nothing to listen to without Redis: the page polls
    return [
        dcc.Interval(id=f"{name}-tick", interval=POLL_MS),
        dcc.Store(id=f"{name}-push"),
        dcc.Store(id=f"{name}-push-live", data=False),
        html.Div(
            id=f"{name}-stream", hidden=True, **{"data-stream": url, "data-target": f"{name}-push"}
        ),
    ]


def register(app: Dash, name: str) -> None:
    @callback(
        app,
        Output(f"{name}-tick", "interval"),
        Input(f"{name}-push-live", "data"),
        prevent_initial_call=True,
        role=VIEWER,
    )
    def pace(live):
        """Poll slowly while the stream is open, every 2 s otherwise."""
        return SAFETY_MS if expect(live, bool, name="live") else POLL_MS
