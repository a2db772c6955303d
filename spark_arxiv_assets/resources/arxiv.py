"""arXiv PDF downloads: polite, retrying, validating, resumable."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import requests
from dagster import ConfigurableResource
from pydantic import PrivateAttr

from ..core.arxiv_ids import ArxivId
from ..core.http_retry import FinalProblem, RetryPolicy, polite_interval, request_with_retries
from ..core.pdf_validation import pdf_data_problem, pdf_file_problem
from ..core.retry_policy import RateLimiter


@dataclass
class DownloadResult:
    status: str  # "downloaded" | "cached" | "failed"
    path: str | None
    error: str | None = None
    attempts: int = 0
    n_bytes: int = 0
    sha256: str | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_path(download_dir: Path, arxiv_id: ArxivId) -> Path:
    """Where a download is kept: by month and versioned id, so v2 is fetched once v1 is cached."""
    version = f"v{arxiv_id.version}" if arxiv_id.version else ""
    return download_dir / arxiv_id.yymm / f"{arxiv_id.safe_name}{version}.pdf"


def read_pdf_body(response: requests.Response, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The body of a streamed response, read at most `max_bytes` far (a huge or endless body is
    refused, not held in memory), and why it is not a whole PDF, if it is not."""
    expected = response.headers.get("Content-Length")
    if expected and expected.isdigit() and int(expected) > max_bytes:
        raise FinalProblem(f"PDF too large: {int(expected):,} bytes announced, above max_pdf_mb ({max_bytes:,} bytes)")
    chunks, size = [], 0
    for chunk in response.iter_content(1 << 20):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            raise FinalProblem(f"PDF too large: more than max_pdf_mb ({max_bytes:,} bytes) sent")
        chunks.append(chunk)
    body = b"".join(chunks)
    if expected and expected.isdigit() and int(expected) != len(body):
        return None, f"truncated download: {len(body)} of {expected} bytes"
    problem = pdf_data_problem(body)
    return (None, problem) if problem else (body, None)


class ArxivClient(ConfigurableResource):
    """Downloads `{base_url}/pdf/{id}` with ≥ `min_interval_s` between requests (never under
    3 s for an arXiv host)."""

    base_url: str = "https://export.arxiv.org"  # PDFs from {base_url}/pdf/<id>
    min_interval_s: float = 3.0  # between requests (never under 3 s for an arXiv host)
    max_retries: int = 4  # per PDF, on 429, 5xx and dropped connections
    backoff_s: float = 5.0  # first wait before a retry, doubled each time (or Retry-After)
    max_backoff_s: float = 120.0  # longest wait before a retry
    timeout_s: float = 60.0  # per request
    max_pdf_mb: float = 200.0  # a larger PDF is quarantined ("PDF too large"), never held in memory whole
    user_agent: str = "spark_arxiv_assets/0.1 (research pipeline; polite crawler)"  # arXiv asks crawlers to say who they are

    _limiter: RateLimiter | None = PrivateAttr(default=None)
    _session: requests.Session | None = PrivateAttr(default=None)

    def _http(self) -> tuple[requests.Session, RateLimiter]:
        if self._session is None:
            self._session = requests.Session()
            self._session.headers["User-Agent"] = self.user_agent
            self._limiter = RateLimiter(polite_interval(self.base_url, self.min_interval_s))
        return self._session, self._limiter

    def download_pdf(self, arxiv_id: ArxivId, dest: Path) -> DownloadResult:
        """Never raises for network or content problems: they come back as `failed`."""
        if dest.exists() and pdf_file_problem(dest) is None:
            return DownloadResult("cached", str(dest), n_bytes=dest.stat().st_size, sha256=file_sha256(dest))
        session, limiter = self._http()
        url = f"{self.base_url.rstrip('/')}/{arxiv_id.pdf_url_path()}"
        policy = RetryPolicy(self.max_retries, self.backoff_s, self.max_backoff_s)
        received: dict[str, bytes] = {}

        def accept(response: requests.Response) -> str | None:
            body, problem = read_pdf_body(response, int(self.max_pdf_mb * 2**20))
            if body is not None:
                received["body"] = body
            return problem

        outcome = request_with_retries(lambda: session.get(url, timeout=self.timeout_s, stream=True), policy,
                                       limiter=limiter, accept=accept)
        if outcome.error is not None:
            return DownloadResult("failed", None, f"{outcome.error} ({url})", attempts=outcome.attempts)
        body = received["body"]
        self._write_atomically(dest, body)
        return DownloadResult("downloaded", str(dest), attempts=outcome.attempts, n_bytes=len(body),
                              sha256=hashlib.sha256(body).hexdigest())

    @staticmethod
    def _write_atomically(dest: Path, body: bytes) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        tmp.write_bytes(body)
        tmp.replace(dest)
