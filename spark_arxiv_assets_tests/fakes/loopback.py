"""Base for the fake servers: a threaded HTTP server on 127.0.0.1 used as a context manager."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for servers started as subprocesses."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeHandler(BaseHTTPRequestHandler):
    """Base of the fakes' request handlers: quiet, and `self.fake` is the server object
    (its script, its record of requests)."""

    fake: "LoopbackServer"

    def log_message(self, *args) -> None:
        pass


class LoopbackServer:
    path_prefix = ""
    handler: type[FakeHandler]  # each fake sets its handler class

    def __init__(self) -> None:
        bound = type(self.handler.__name__, (self.handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path_prefix}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def send_body(handler: BaseHTTPRequestHandler, body: bytes, content_type: str, status: int = 200) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
