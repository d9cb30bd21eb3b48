"""gunicorn settings; metrics of dead workers are marked so the aggregate stays right."""

import os

from prometheus_client import multiprocess

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8050')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
timeout = 30
accesslog = "-"


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
