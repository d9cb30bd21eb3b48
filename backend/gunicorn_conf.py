"""gunicorn settings; metrics of dead workers are marked so the aggregate stays right.

Threaded workers with a lane of their own for health checks (``backend.web.lane``), and
a graceful stop: on SIGTERM a worker finishes what it is serving (``graceful_timeout``).
"""

import os
import signal

from prometheus_client import multiprocess

from backend.ops.logs import gunicorn_logconfig

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8050')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "backend.web.lane.HealthLaneWorker"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
# gunicorn's control socket (for gunicornc) sits at one path per user, shared by every
# desk on the machine, and its thread is stopped and restarted around each fork; unused
control_socket_disable = True
graceful_timeout = 20
# The app logs one structured `request` line per answer (backend.ops.logs); gunicorn's own
# lines (start, stop, worker deaths) use the same format.
accesslog = None
logconfig_dict = gunicorn_logconfig(
    os.environ.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO").upper()
)


def post_worker_init(worker):
    """Probe the dependencies before the first health check asks; on SIGTERM, end the
    open push streams first, so the graceful stop waits for real requests only."""
    worker.wsgi.extensions["health"].start()
    streams = worker.wsgi.extensions["push_streams"]
    stop = signal.getsignal(signal.SIGTERM)  # gunicorn's own handler, set just before

    def end_streams_then_stop(signum, frame):
        streams.closing.set()
        stop(signum, frame)

    signal.signal(signal.SIGTERM, end_streams_then_stop)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
