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
from ..core.pdf_validation import pdf_data_problem, pdf_file_problem
from ..core.retry_policy import RateLimiter
from .http_retry import RetryPolicy, polite_interval, request_with_retries


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


def _pdf_body_problem(response: requests.Response) -> str | None:
    """A 200 is kept only when the body is a whole PDF (not an HTML error page, not cut short)."""
    body = response.content
    expected = response.headers.get("Content-Length")
    if expected and expected.isdigit() and int(expected) != len(body):
        return f"truncated download: {len(body)} of {expected} bytes"
    return pdf_data_problem(body)


class ArxivClient(ConfigurableResource):
    """Downloads `{base_url}/pdf/{id}` with ≥ `min_interval_s` between requests (never under
    3 s for an arXiv host)."""

    base_url: str = "https://export.arxiv.org"
    min_interval_s: float = 3.0
    max_retries: int = 4
    backoff_s: float = 5.0
    max_backoff_s: float = 120.0
    timeout_s: float = 60.0
    user_agent: str = "spark_arxiv_assets/0.1 (research pipeline; polite crawler)"

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
        outcome = request_with_retries(lambda: session.get(url, timeout=self.timeout_s), policy, limiter=limiter,
                                       accept=_pdf_body_problem)
        if outcome.error is not None:
            return DownloadResult("failed", None, f"{outcome.error} ({url})", attempts=outcome.attempts)
        body = outcome.response.content
        self._write_atomically(dest, body)
        return DownloadResult("downloaded", str(dest), attempts=outcome.attempts, n_bytes=len(body),
                              sha256=hashlib.sha256(body).hexdigest())

    @staticmethod
    def _write_atomically(dest: Path, body: bytes) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        tmp.write_bytes(body)
        tmp.replace(dest)
