"""A TCP proxy that tests cut: the network between a worker and the API, for real.

`cut()` closes every open connection and the listening socket, so that new connections are
refused (what a client sees of a stopped API or a lost route); `restore()` listens again on the
same port. `fail_next(marker, n)` resets the next `n` connections in which a request containing
`marker` (bytes of its request line) is seen, before the request reaches the server.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from contextlib import suppress

CHUNK = 65536
# SO_LINGER on with a zero timeout: close() sends RST, not FIN.
LINGER_RESET = struct.pack("ii", 1, 0)


class TcpProxy:
    """127.0.0.1:`port` forwarded to `target_host`:`target_port`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._fail_marker = b""
        self._fail_left = 0
        self.failed = 0
        self.port = self._listen(0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return int(listener.getsockname()[1])

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut() or close()
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while data := source.recv(CHUNK):
                if outbound and self._should_fail(data):
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _should_fail(self, data: bytes) -> bool:
        with self._lock:
            if self._fail_left and self._fail_marker in data:
                self._fail_left -= 1
                self.failed += 1
                return True
        return False

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with suppress(OSError):
                # RST rather than FIN: the client sees a reset connection, as when a host dies.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()
            with self._lock:
                self._sockets.discard(sock)

    def fail_next(self, marker: bytes, count: int) -> None:
        """Reset the next `count` connections that carry a request containing `marker`."""
        with self._lock:
            self._fail_marker, self._fail_left = marker, count

    def cut(self) -> None:
        """Drop every connection and refuse new ones until `restore()`."""
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets = list(self._sockets)
        if listener is not None:
            listener.close()
        self._drop(*open_sockets)

    def restore(self, within_s: float = 10.0) -> None:
        """Accept connections again, on the same port. The port can stay taken for a moment
        after a cut (a connection's socket on it not yet gone), so binding is retried."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                self._listen(self.port)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self.cut()
