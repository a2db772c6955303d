"""A fake arXiv export host on 127.0.0.1 with scripted faults per paper.

Scripts are lists of responses served in order for `/pdf/<id>` (the last one repeats):
"ok", "429", "503", "404", "html", "truncated_body" (Content-Length larger than the body),
"no_eof" (a PDF cut short with a correct Content-Length), "no_length" (the body without a
Content-Length, ended by closing the connection, as some proxies send it).
"""
from __future__ import annotations

import time

import pymupdf

from .loopback import FakeHandler, LoopbackServer, send_body

HTML_ERROR = b"<!DOCTYPE html><html><head><title>arXiv error</title></head><body>PDF unavailable</body></html>"


def tiny_pdf(text: str) -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    return doc.tobytes()


class _Handler(FakeHandler):
    def do_GET(self):
        fake = self.fake
        fake.requests.append((time.monotonic(), self.path))
        key = self.path.removeprefix("/pdf/")
        action = fake._next(key)
        if action in ("429", "503"):
            self.send_response(int(action))
            self.send_header("Retry-After", fake.retry_after)
            self.end_headers()
        elif action == "404":
            self.send_response(404)
            self.end_headers()
        elif action == "html":
            send_body(self, HTML_ERROR, "text/html")
        elif action == "truncated_body":
            body = tiny_pdf(key)
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(len(body) * 2))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
        elif action == "no_eof":
            send_body(self, tiny_pdf(key)[:300], "application/pdf")
        elif action == "no_length":
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            self.wfile.write(fake.bodies.get(key) or tiny_pdf(f"paper {key}"))
            self.close_connection = True
        else:
            send_body(self, fake.bodies.get(key) or tiny_pdf(f"paper {key}"), "application/pdf")


class FakeArxiv(LoopbackServer):
    handler = _Handler

    def __init__(self, scripts: dict[str, list[str]], retry_after: str = "1", bodies: dict[str, bytes] | None = None) -> None:
        """`bodies` are real PDFs served for "ok" (by the path after /pdf/); others get a tiny PDF."""
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.bodies = bodies or {}
        self.retry_after = retry_after
        self.requests: list[tuple[float, str]] = []  # (monotonic time, path)
        super().__init__()

    def hits(self, paper_path: str) -> int:
        return sum(1 for _, path in self.requests if path == f"/pdf/{paper_path}")

    def _next(self, key: str) -> str:
        script = self.scripts.get(key, ["404"])
        return script.pop(0) if len(script) > 1 else script[0]
