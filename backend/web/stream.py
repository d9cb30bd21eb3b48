"""GET /api/v1/stream: server-sent events telling an open page what changed (prices,
opportunities, trades), so it refreshes at once instead of on its next poll. Without
Redis, or with every stream of the process taken, it answers 204 (no reconnect)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request, stream_with_context
from werkzeug.exceptions import BadRequest

from backend import push
from backend.desk import current_desk
from backend.web.access import VIEWER, access

bp = Blueprint("stream", __name__, url_prefix="/api/v1")


def _kinds() -> set[str]:
    raw = request.args.get("kinds", ",".join(push.KINDS))
    kinds = set(raw.split(","))
    if not kinds <= set(push.KINDS) or len(raw) > 100:
        raise BadRequest(f"kinds is a comma-separated list of {', '.join(push.KINDS)}")
    return kinds


@bp.get("/stream")
@access(VIEWER)
def stream():
    kinds = _kinds()
    desk = current_desk()
    if not push.available(desk.cache):
        return _no_stream("pushed updates need Redis (REDIS_URL); poll instead")
    slots: push.Streams = current_app.extensions["push_streams"]
    if not slots.acquire():
        return _no_stream("every push stream of this process is taken; poll instead")

    def body():
        try:
            yield from push.events(
                desk.cache, kinds, desk.settings.push_stream_seconds, slots.closing
            )
        finally:
            slots.release()

    return Response(
        stream_with_context(body()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _no_stream(why: str) -> Response:
    """204 is how server-sent events say "do not reconnect": the page polls instead."""
    return Response(status=204, headers={"X-Push-Unavailable": why})


def init_app(app: Flask) -> None:
    app.extensions["push_streams"] = push.Streams(app.extensions["desk"].settings.push_max_streams)
    app.register_blueprint(bp)
