"""A page's live feed: an EventSource on /api/v1/stream when the desk has Redis, and an
Interval that polls every 2 s until the stream is open (and as a slow safety net after).

A page lists ``Input(f"{name}-push", "message")`` and ``Input(f"{name}-tick",
"n_intervals")`` among its refresh inputs. When the stream cannot open (no Redis, or the
process serves its maximum of streams: 503) the browser does not retry and the page
keeps polling.
"""

from __future__ import annotations

from dash import Dash, Input, Output, dcc
from dash_extensions import EventSource

from backend import push
from backend.desk import current_desk
from backend.web.access import VIEWER
from dashboard.access import callback, expect

POLL_MS = 2000
SAFETY_MS = 15000  # with the stream open, a poll still catches anything it missed


def listener(name: str, kinds: list[str]) -> list:
    parts = [dcc.Interval(id=f"{name}-tick", interval=POLL_MS)]
    url = f"/api/v1/stream?kinds={','.join(kinds)}"
    # Without Redis there is nothing to listen to: closed at once, the page polls.
    closed = not push.available(current_desk().cache)
    parts.append(EventSource(id=f"{name}-push", url=url, close=closed))
    return parts


def register(app: Dash, name: str) -> None:
    @callback(
        app,
        Output(f"{name}-tick", "interval"),
        Input(f"{name}-push", "readyState"),
        prevent_initial_call=True,
        role=VIEWER,
    )
    def pace(state):
        """Poll slowly while the stream is open, every 2 s otherwise."""
        return SAFETY_MS if expect(state, int, type(None), name="readyState") == 1 else POLL_MS
