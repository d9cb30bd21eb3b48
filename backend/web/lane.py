"""gunicorn's threaded worker with a lane of its own for health checks.

gthread hands every request to one thread pool. When the app's threads are all busy (a
dependency hangs and every request waits on it), a health check would queue behind them
and answer only when they do: exactly when operations need it. This worker looks at the
request line before choosing a pool (``MSG_PEEK``, nothing consumed): health URLs go to a
small pool of their own, which only ever reads the health monitor's last results, so
``/api/v1/health`` answers in milliseconds however stuck the rest is. A connection with
no bytes yet waits in the poller, as gthread does with a slow client, not in a thread.
"""

from __future__ import annotations

import re
import socket
from concurrent import futures

from gunicorn.workers.gthread import _DEFER, ThreadWorker

HEALTH = re.compile(rb"(GET|HEAD) /(api/v1/)?health[/ ?]")
LANE_THREADS = 2


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
        super().init_process()

    def enqueue_req(self, conn) -> None:
        head = _head(conn)
        if head is None:
            waiting = futures.Future()
            waiting.set_result(_DEFER)
            self.finish_request(conn, waiting)  # back to the poller until bytes arrive
            return
        pool = self.lane if HEALTH.match(head) else self.tpool
        done = pool.submit(self.handle, conn)
        done.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))
