"""`make run`'s Ctrl-C: honcho signals each Procfile entry's process group; the worker is
one process (exec, thread pool), so it alone gets the signal and shuts down warm: it
finishes what it runs instead of losing pool children mid-task."""

import contextlib
import os
import re
import signal

from tests.conftest import start_embedded_desk


def test_ctrl_c_gives_the_worker_a_warm_shutdown(tmp_path):
    desk = start_embedded_desk(tmp_path)
    started = re.findall(r"\| (\w+)\.1 started \(pid=(\d+)\)", desk.log.read_text())
    groups = {name: os.getpgid(int(pid)) for name, pid in started}
    members = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(ProcessLookupError):
                members.setdefault(os.getpgid(int(entry)), []).append(int(entry))
    worker = groups["worker"]
    assert len(members[worker]) == 1, "the worker's group holds more than its main process"
    os.killpg(desk.process.pid, signal.SIGINT)
    desk.process.wait(timeout=30)
    log = desk.log.read_text()
    tail = "\n".join(line[:300] for line in log.splitlines()[-60:])  # what stopped slowly
    assert "Warm shutdown" in log, tail
    for bad in ("WorkerLostError", "exited prematurely", "SIGKILL"):
        assert bad not in log, f"{bad} in the desk's log; its end:\n{tail}"
