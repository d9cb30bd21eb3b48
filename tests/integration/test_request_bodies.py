"""Under gunicorn, as production runs: a chunked body past MAX_REQUEST_BYTES is a 413 in
the desk's JSON shape, and a client that never finishes its body is answered 408 within
BODY_READ_TIMEOUT_SECONDS, so a few of them cannot take every thread of a worker."""

from __future__ import annotations

import json
import socket
import threading
import time

import requests

from tests.conftest import web_only


def chunks(total: int, size: int = 64 * 1024):
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_a_chunked_body_over_the_limit_is_a_413_and_one_under_it_is_read_whole(tmp_path):
    with web_only(tmp_path, users=[("tina", "trader")]) as (url, tokens):
        headers = {"Authorization": f"Bearer {tokens['tina']}", "Content-Type": "application/json"}
        big = requests.post(
            url + "/api/v1/trades", data=chunks(3_000_000), headers=headers, timeout=30
        )
        assert big.status_code == 413, big.text
        assert big.json() == {
            "error": "the request body is larger than 1000000 bytes",
            "status": 413,
        }
        body = json.dumps({"opportunity_id": 999_999, "size": "500"}).encode()
        small = requests.post(
            url + "/api/v1/trades",
            data=iter([body[:10], body[10:]]),  # chunked, under the limit
            headers=headers | {"Idempotency-Key": "chunked-1"},
            timeout=30,
        )
        assert small.status_code == 404, small.text  # parsed: the opportunity is unknown


def stalled_client(port: int, token: str, trickle: bool, answers: list) -> None:
    """Announces 100 kB and sends a few bytes (one every 0.2 s when ``trickle``)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /api/v1/trades HTTP/1.1\r\nHost: desk\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 100000\r\n\r\n{"
        )
        sock.settimeout(20)
        started = time.monotonic()
        if trickle:
            try:
                for _ in range(50):
                    sock.sendall(b" ")
                    time.sleep(0.2)
            except OSError:
                pass  # the desk stopped reading
        try:
            answer = sock.recv(200)
        except OSError as exc:
            answer = repr(exc).encode()
        answers.append((answer, time.monotonic() - started))


def test_clients_that_never_finish_their_body_cannot_starve_the_workers(tmp_path):
    env = {"WEB_CONCURRENCY": "1", "WEB_THREADS": "2", "BODY_READ_TIMEOUT_SECONDS": "1"}
    with web_only(tmp_path, users=[("tina", "trader")], env=env) as (url, tokens):
        requests.get(url + "/api/v1/prices", headers={"Authorization": f"Bearer {tokens['tina']}"})
        port = int(url.rsplit(":", 1)[1])
        answers: list = []
        clients = [
            threading.Thread(target=stalled_client, args=(port, tokens["tina"], i % 2, answers))
            for i in range(4)  # twice the app threads
        ]
        for client in clients:
            client.start()
        time.sleep(0.3)
        started = time.monotonic()
        served = requests.get(
            url + "/api/v1/prices",
            headers={"Authorization": f"Bearer {tokens['tina']}"},
            timeout=15,
        )
        took = time.monotonic() - started
        for client in clients:
            client.join(timeout=20)
    assert served.status_code == 200
    assert took < 3.0, f"a normal request waited {took:.1f} s behind stalled clients"
    assert len(answers) == 4
    for answer, waited in answers:
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert waited < 3.0
