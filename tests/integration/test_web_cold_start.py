"""A freshly started gunicorn serves a burst of first requests without a single error
(Dash's lazy setup used to race between the threads of a cold worker)."""

import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import BIN, ROOT, free_port

DASH_SCRIPTS = ["deps/react@18.3.1.min.js", "deps/react-dom@18.3.1.min.js",
                "deps/prop-types@15.8.1.min.js", "dash-renderer/build/dash_renderer.min.js"]


def test_first_requests_to_every_worker_all_succeed(tmp_path):
    port = free_port()
    env = os.environ | {"PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}",
                        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--config", "backend/gunicorn_conf.py",
                             "backend:create_app()"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}/_dash-component-suites/dash/"
        deadline = time.monotonic() + 30
        while True:  # listening; no HTTP request yet, so every worker is still cold
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.05)
        with ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(lambda path: requests.get(base + path, timeout=20).status_code,
                                  DASH_SCRIPTS * 16))
        assert codes == [200] * len(codes)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
