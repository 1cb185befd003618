"""A tiny real model server standing in for a Bento in router tests (a real process, not a mock).

Speaks the SageMaker container contract: `GET /ping` -> 200, `POST /invocations` -> JSON
`{"variant": NAME, "echo": <request body>}`. EndpointBehaviour is set on the command line:

  --error-rate R     answer 500 to a deterministic fraction R of invocations (every 1/R-th)
  --client-error     answer every invocation with 400
  --stall            never answer invocations (the connection stays open)
  --delay-ms D       wait D milliseconds before answering

Run: python tests/local/variant_server.py --port P --name NAME [options]
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--client-error", action="store_true")
    parser.add_argument("--stall", action="store_true")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    lock = threading.Lock()
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *a: Any) -> None:
            return

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._reply(200, b"{}")
            else:
                self._reply(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/invocations":
                self._reply(404, b'{"error": "not found"}')
                return
            if args.stall:
                time.sleep(3600)
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000.0)
            with lock:
                n = count[0]
                count[0] += 1
            if args.client_error:
                self._reply(400, b'{"error": "bad input"}')
            elif math.floor((n + 1) * args.error_rate) > math.floor(n * args.error_rate):
                self._reply(500, b'{"error": "model failed"}')
            else:
                echo = body.decode("utf-8", errors="replace")
                self._reply(200, json.dumps({"variant": args.name, "echo": echo}).encode())

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
