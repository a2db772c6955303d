"""A fake Kaggle API on 127.0.0.1 for the `kaggle` package's dataset download: the RPC
`POST /api/v1/datasets.DatasetApiService/DownloadDataset` checks the legacy key (HTTP basic
auth, as the client sends it) and redirects to the zipped file, as Kaggle does to its storage."""
from __future__ import annotations

import base64
import io
import json
import zipfile

from .loopback import FakeHandler, LoopbackServer, send_body

LAST_MODIFIED = "Mon, 02 Nov 2026 10:00:00 GMT"


class _Handler(FakeHandler):
    def do_POST(self):
        fake = self.fake
        fake.requests.append(("POST", self.path))
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.headers.get("Authorization") != fake.expected_auth:
            send_body(self, json.dumps({"code": 401, "message": "Unauthenticated"}).encode(),
                      "application/json", status=401)
        elif not self.path.endswith("/datasets.DatasetApiService/DownloadDataset"):
            send_body(self, b'{"code": 404, "message": "Not found"}', "application/json", status=404)
        else:
            self.send_response(302)
            self.send_header("Location", f"/storage/{body.get('fileName')}.zip")
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_GET(self):
        fake = self.fake
        fake.requests.append(("GET", self.path))
        if self.path != f"/storage/{fake.file_name}.zip":
            send_body(self, b"not found", "text/plain", status=404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(fake.archive)))
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(fake.archive)


class FakeKaggle(LoopbackServer):
    handler = _Handler

    def __init__(self, username: str, key: str, file_name: str, content: bytes) -> None:
        self.expected_auth = "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode()
        self.file_name = file_name
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(file_name, content)
        self.archive = buffer.getvalue()
        self.requests: list[tuple[str, str]] = []  # (method, path)
        super().__init__()
