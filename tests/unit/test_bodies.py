"""The body-read deadlines: one thread per process cuts a late read, and only a late one."""

from __future__ import annotations

import socket
import time

from backend.web.bodies import _Deadlines


def test_a_late_read_is_cut_at_its_deadline_and_one_in_time_is_not():
    deadlines = _Deadlines()
    late, _client = socket.socketpair()
    prompt, other = socket.socketpair()
    try:
        in_time = deadlines.watch(prompt, 30)
        started = time.monotonic()
        cut = deadlines.watch(late, 0.2)  # due sooner than the first: wakes the thread
        assert late.recv(10) == b""  # blocked until the deadline shut the read side
        assert 0.15 < time.monotonic() - started < 2
        assert deadlines.done(cut) is True
        other.sendall(b"{}")
        assert prompt.recv(10) == b"{}"
        assert deadlines.done(in_time) is False
    finally:
        for sock in (late, _client, prompt, other):
            sock.close()
