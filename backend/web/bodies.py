"""Request bodies read whole before any view runs: bounded in size and in time.

Flask's ``MAX_CONTENT_LENGTH`` only sees ``Content-Length``. A chunked body (gunicorn
marks its stream terminated) was cut at the limit and handed on truncated, so a 3 MB
JSON body answered 400 "not JSON" instead of 413. And a gunicorn thread reads a body with
no deadline: a client that announces 100 kB and sends ten bytes held the thread until it
hung up, so a few such clients starved every worker. Here a body is read into memory (it
is at most ``MAX_REQUEST_BYTES``) before the view: one byte past the limit is a 413, and
a body not in within ``BODY_READ_TIMEOUT_SECONDS`` is a 408. At the deadline one thread per
process shuts the socket's read side, so a client trickling a byte a second cannot stretch
it (a ``threading.Timer`` per body started and stopped a thread on every POST: 0.12 ms of
CPU alone, several times that with the request threads contending for the GIL).
"""

from __future__ import annotations

import contextlib
import io
import math
import socket
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestTimeout

CHUNK = 64 * 1024


def _shut_reading(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RD)  # a blocked read returns at once; the answer still goes


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"the request body is larger than {limit} bytes")


@dataclass(eq=False)
class _Reading:
    sock: socket.socket
    until: float
    late: bool = False


class _Deadlines:
    """The bodies being read and the thread that cuts them at their deadline. The thread
    sleeps until ``_wakes_at``: a read due sooner than that moves it and wakes the thread,
    one due later (the usual case, every read has the same timeout) is seen when it wakes."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._reading: set[_Reading] = set()
        self._wakes_at = math.inf
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, seconds: float) -> _Reading:
        reading = _Reading(sock, time.monotonic() + seconds)
        with self._changed:
            self._reading.add(reading)
            if reading.until < self._wakes_at:
                self._wakes_at = reading.until
                self._changed.notify()
            if self._thread is None or not self._thread.is_alive():  # none yet, or forked
                self._thread = threading.Thread(target=self._run, name="body-deadlines")
                self._thread.daemon = True
                self._thread.start()
        return reading

    def done(self, reading: _Reading) -> bool:
        """Stop watching; whether the deadline cut the read short."""
        with self._changed:
            self._reading.discard(reading)
        return reading.late

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                if self._wakes_at <= now:
                    for reading in [r for r in self._reading if r.until <= now]:
                        reading.late = True
                        _shut_reading(reading.sock)  # a blocked read returns at once
                        self._reading.discard(reading)
                    self._wakes_at = min((r.until for r in self._reading), default=math.inf)
                self._changed.wait(None if self._wakes_at == math.inf else self._wakes_at - now)


_deadlines = _Deadlines()


def _read(stream, want: int, sock: socket.socket | None, seconds: float) -> tuple[bytes, bool]:
    """Up to ``want`` bytes, and whether the deadline cut the read short."""
    reading = _deadlines.watch(sock, seconds) if sock is not None else None
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
        late = reading is not None and _deadlines.done(reading)
    return body.getvalue(), late


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
