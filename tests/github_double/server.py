"""HTTP plumbing of the GitHub API double: a threaded stdlib server on 127.0.0.1, one request at a time
through the contract checks, auth, fault injection and the operation handlers of `GitHubDouble`."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from tests.github_double.double import GitHubDouble


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _dispatch(self) -> None:
        self.server.double.handle_http(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    # Helpers the double uses -------------------------------------------------------------------
    def split_target(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))

    def read_body(self, limit: int | None = None) -> bytes:
        """The request body (Content-Length or chunked); at most LIMIT bytes when given."""
        length = self.headers.get("Content-Length")
        if length is not None:
            want = int(length) if limit is None else min(int(length), limit)
            return self.rfile.read(want)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
                if limit is not None and len(data) >= limit:
                    return bytes(data[:limit])
        return b""

    def send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, double: GitHubDouble) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.double = double


class HttpServer:
    """Starts and stops the threaded server on a free loopback port."""

    def __init__(self, double: GitHubDouble) -> None:
        self._server = _Server(double)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="github-double",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
