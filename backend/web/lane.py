"""gunicorn's threaded worker with lanes of their own for health checks and push streams.

gthread hands every request to one thread pool. When the app's threads are all busy (a
dependency hangs and every request waits on it), a health check would queue behind them
and answer only when they do: exactly when operations need it. This worker looks at the
request line before choosing a pool (``MSG_PEEK``, nothing consumed): health URLs go to a
small pool of their own, which only ever reads the health monitor's last results, so
``/api/v1/health`` answers in milliseconds however stuck the rest is. A connection with
no bytes yet waits in the poller, as gthread does with a slow client, not in a thread.

Push streams (``/api/v1/stream``) get a lane too: each one waits on Redis for its whole
life, so in the app's pool a few open pages would take every thread. In their own lane
they cost an idle thread each (the app caps them at ``PUSH_MAX_STREAMS`` and answers 204
past it, so the page polls), and the app's threads stay for requests.
"""

from __future__ import annotations

import re
import socket
from concurrent import futures

from gunicorn.workers.gthread import _DEFER, ThreadWorker

HEALTH = re.compile(rb"(GET|HEAD) /(api/v1/)?health[/ ?]")
STREAM = re.compile(rb"GET /api/v1/stream[ ?]")
LANE_THREADS = 2
STREAM_THREADS = 65  # one more than PUSH_MAX_STREAMS allows, for the 204 past it


def _head(conn) -> bytes | None:
    """The first bytes of the next request, or None if none have arrived yet."""
    if conn.parser is not None:
        buffered = conn.parser.unreader.buf.getvalue()
        if buffered:
            return buffered[:64]
    if conn.cfg.is_ssl:
        return b""  # encrypted: cannot look; the app's pool serves it
    try:
        return conn.sock.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return None
    except OSError:
        return b""  # let the pool meet the error and close the connection


class HealthLaneWorker(ThreadWorker):
    def init_process(self) -> None:
        self.lane = futures.ThreadPoolExecutor(LANE_THREADS, thread_name_prefix="health-lane")
        self.streams = futures.ThreadPoolExecutor(STREAM_THREADS, thread_name_prefix="push-lane")
        super().init_process()

    def enqueue_req(self, conn) -> None:
        head = _head(conn)
        if head is None:
            waiting = futures.Future()
            waiting.set_result(_DEFER)
            self.finish_request(conn, waiting)  # back to the poller until bytes arrive
            return
        pool = self.lane if HEALTH.match(head) else self.tpool
        if STREAM.match(head):
            pool = self.streams  # threads are made as streams open, up to the app's cap
        done = pool.submit(self.handle, conn)
        done.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))
