"""Request bodies read whole before any view runs: bounded in size and in time.

Flask's ``MAX_CONTENT_LENGTH`` only sees ``Content-Length``. A chunked body (gunicorn
marks its stream terminated) was cut at the limit and handed on truncated, so a 3 MB
JSON body answered 400 "not JSON" instead of 413. And a gunicorn thread reads a body with
no deadline: a client that announces 100 kB and sends ten bytes held the thread until it
hung up, so a few such clients starved every worker. Here a body is read into memory (it
is at most ``MAX_REQUEST_BYTES``) before the view: one byte past the limit is a 413, and
a body not in within ``BODY_READ_TIMEOUT_SECONDS`` is a 408. The deadline is a timer that
shuts the socket's read side, so a client trickling a byte a second cannot stretch it.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading

from flask import Flask, current_app, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestTimeout

CHUNK = 64 * 1024


def _shut_reading(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RD)  # a blocked read returns at once; the answer still goes


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"the request body is larger than {limit} bytes")


def _read(stream, want: int, sock: socket.socket | None, seconds: float) -> tuple[bytes, bool]:
    """Up to ``want`` bytes, and whether the deadline cut the read short."""
    late = threading.Event()

    def cut() -> None:
        late.set()
        _shut_reading(sock)

    timer = threading.Timer(seconds, cut) if sock is not None else None
    if timer is not None:
        timer.start()
    body = io.BytesIO()
    try:
        while body.tell() < want:
            chunk = stream.read(min(CHUNK, want - body.tell()))
            if not chunk:
                break
            body.write(chunk)
    except OSError:
        pass  # the client went away, or the deadline shut the socket
    finally:
        if timer is not None:
            timer.cancel()
    return body.getvalue(), late.is_set()


def read_body() -> None:
    environ = request.environ
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    length = request.content_length
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if length is not None and length > limit:
        raise _too_large(limit)
    if not length and not chunked:
        return
    seconds = current_app.config["BODY_READ_TIMEOUT_SECONDS"]
    sock = environ.get("gunicorn.socket")
    try:
        body, late = _read(environ["wsgi.input"], length or limit + 1, sock, seconds)
    except ParseException as exc:  # gunicorn's parser on a malformed chunk
        raise BadRequest(f"malformed chunked body: {exc}") from None
    if len(body) > limit:
        raise _too_large(limit)
    if late:
        raise RequestTimeout(f"the request body did not arrive within {seconds:g} s")
    if length is not None and len(body) < length:
        if sock is not None:
            _shut_reading(sock)  # the rest may still come: read nothing more of it
        raise BadRequest("the request body ended before its Content-Length")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def init_app(app: Flask, seconds: float) -> None:
    app.config["BODY_READ_TIMEOUT_SECONDS"] = seconds
    app.before_request_funcs.setdefault(None, []).insert(0, read_body)  # before any reader
