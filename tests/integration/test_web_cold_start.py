"""A freshly started gunicorn serves a burst of first requests without a single error
(Dash's lazy setup used to race between the threads of a cold worker)."""

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import web_only

DASH_SCRIPTS = [
    "deps/react@18.3.1.min.js",
    "deps/react-dom@18.3.1.min.js",
    "deps/prop-types@15.8.1.min.js",
    "dash-renderer/build/dash_renderer.min.js",
]


def test_first_requests_to_every_worker_all_succeed(tmp_path):
    with web_only(tmp_path) as (url, _tokens), ThreadPoolExecutor(32) as pool:
        base = f"{url}/_dash-component-suites/dash/"
        codes = list(
            pool.map(
                lambda path: requests.get(base + path, timeout=20).status_code, DASH_SCRIPTS * 16
            )
        )
    assert codes == [200] * len(codes)
