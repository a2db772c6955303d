"""arXiv PDF downloads: polite, retrying, validating, resumable."""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from dagster import ConfigurableResource
from pydantic import PrivateAttr

from ..core.arxiv_ids import ArxivId
from ..core.pdf_validation import pdf_data_problem, pdf_file_problem
from ..core.retry_policy import RETRYABLE_STATUS, RateLimiter, backoff_delay, parse_retry_after


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


class ArxivClient(ConfigurableResource):
    """Downloads `{base_url}/pdf/{id}` with ≥ `min_interval_s` between requests."""

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
            self._limiter = RateLimiter(self.min_interval_s)
        return self._session, self._limiter

    def download_pdf(self, arxiv_id: ArxivId, dest: Path) -> DownloadResult:
        """Never raises for network or content problems: they come back as `failed`."""
        if dest.exists() and pdf_file_problem(dest) is None:
            return DownloadResult("cached", str(dest), n_bytes=dest.stat().st_size, sha256=file_sha256(dest))
        session, limiter = self._http()
        url = f"{self.base_url.rstrip('/')}/{arxiv_id.pdf_url_path()}"
        error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            limiter.wait()
            retry_after = None
            try:
                response = session.get(url, timeout=self.timeout_s)
                body = response.content
            except requests.RequestException as exc:
                error = f"network error: {type(exc).__name__}: {exc}"[:300]
            else:
                if response.status_code == 200:
                    expected = response.headers.get("Content-Length")
                    problem = pdf_data_problem(body)
                    if expected and expected.isdigit() and int(expected) != len(body):
                        problem = f"truncated download: {len(body)} of {expected} bytes"
                    if problem is None:
                        self._write_atomically(dest, body)
                        return DownloadResult("downloaded", str(dest), attempts=attempt + 1, n_bytes=len(body),
                                              sha256=hashlib.sha256(body).hexdigest())
                    error = problem
                else:
                    error = f"HTTP {response.status_code} from {url}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if response.status_code not in RETRYABLE_STATUS:
                        return DownloadResult("failed", None, error, attempts=attempt + 1)
            if attempt < self.max_retries:
                time.sleep(backoff_delay(attempt, self.backoff_s, self.max_backoff_s, retry_after))
        return DownloadResult("failed", None, f"{error} (after {self.max_retries + 1} attempts)",
                              attempts=self.max_retries + 1)

    @staticmethod
    def _write_atomically(dest: Path, body: bytes) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        tmp.write_bytes(body)
        tmp.replace(dest)
