"""A TCP proxy in front of a real service, to break the way networks and servers break.

Modes, switched at any time:
- ``pass``: bytes flow both ways.
- ``hang``: connections stay open and new ones are accepted, but nothing is forwarded
  (a frozen server or a black-holed route): the peer waits for bytes that never come.
- ``refuse``: the port refuses connections and open ones are closed (the server is gone).
- ``cut``: open connections are reset, new ones are accepted and reset at once (a
  crashing server, a restarting load balancer).
Back to ``pass``, the service is reachable again, as after a real outage.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

MODES = ("pass", "hang", "refuse", "cut")


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept_loop, daemon=True, name="proxy-accept").start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        return sock

    def set(self, mode: str) -> None:
        assert mode in MODES, mode
        with self._lock:
            previous, self.mode = self.mode, mode
            if mode in ("refuse", "cut"):
                for client, upstream in self._pairs:
                    _reset(client)
                    _reset(upstream)
                self._pairs.clear()
            if mode == "refuse" and previous != "refuse":
                # close() alone leaves the port listening while accept() blocks on it
                # (and the port then cannot be bound again): shutdown wakes accept first.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
            if previous == "refuse" and mode != "refuse":
                self._listener = self._listen(self.port)
                threading.Thread(target=self._accept_loop, daemon=True).start()

    def close(self) -> None:
        self._stopped = True
        self.set("refuse")

    def _accept_loop(self) -> None:
        listener = self._listener
        while not self._stopped:
            try:
                client, _ = listener.accept()
            except OSError:  # closed: refuse mode or stopped
                return
            if self.mode == "cut":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._stopped:
                if self.mode == "hang":  # leave the bytes in the kernel: nobody answers
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: cut() closed a socket under select()
            return
        finally:
            for sock in peers:
                sock.close()
            with self._lock:
                if (client, upstream) in self._pairs:
                    self._pairs.remove((client, upstream))
