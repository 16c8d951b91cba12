"""A receiver that misbehaves on purpose, on 127.0.0.1: each path is one kind of trouble
a webhook endpoint can make. Raw sockets, so it can do what no polite server would."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

# Each behaviour ends within this, whatever the client does.
MAX_SECONDS = 20.0
HUGE_REPLY_BYTES = 100 * 1024 * 1024


class HostileReceiver:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}"

    def start(self) -> HostileReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(MAX_SECONDS)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ", 2)[1].decode().split("?")[0].strip("/")
            getattr(self, f"_{path}", self._ok)(conn)

    def _ok(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    def _hang(self, conn: socket.socket) -> None:
        self._stopping.wait(MAX_SECONDS)

    def _trickle(self, conn: socket.socket) -> None:
        """The status line and headers a byte every half second (slowloris, reversed)."""
        head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-slow: " + b"y" * 100
        for byte in head:
            if self._stopping.wait(0.5):
                return
            conn.sendall(bytes([byte]))

    def _slowbody(self, conn: socket.socket) -> None:
        """A 200 at once, then its body a byte every half second."""
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        deadline = time.monotonic() + MAX_SECONDS
        while time.monotonic() < deadline and not self._stopping.is_set():
            conn.sendall(b"x")
            time.sleep(0.5)

    def _huge(self, conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\ncontent-length: {HUGE_REPLY_BYTES}\r\n\r\n".encode())
        block = b"z" * 65536
        for _ in range(HUGE_REPLY_BYTES // len(block)):
            conn.sendall(block)  # raises once the client has read its fill and closed

    def _redirect(self, conn: socket.socket) -> None:
        location = f"http://127.0.0.1:{self.port}/redirect"
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n".encode()
        )

    def _reset(self, conn: socket.socket) -> None:
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _toomany(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 999999999\r\ncontent-length: 4\r\n"
            b"\r\nslow"
        )

    def _cuthead(self, conn: socket.socket) -> None:
        """A status line, half a header, then the connection closed: no answer."""
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-le")

    def _hintsthencut(self, conn: socket.socket) -> None:
        """A whole 103 Early Hints head, then the final head cut off by a close."""
        conn.sendall(
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-le"
        )

    def _processing(self, conn: socket.socket) -> None:
        """A 102 Processing, then nothing until the client gives up."""
        conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
        self._stopping.wait(MAX_SECONDS)

    def _gone(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 410 Gone\r\ncontent-length: 4\r\n\r\ngone")

    def _binary(self, conn: socket.socket) -> None:
        body = b"\x00\xff\xfe\x00binary\x00\xc3\x28" * 50
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
