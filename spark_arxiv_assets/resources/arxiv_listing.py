"""New arXiv papers from the OAI-PMH listing, politely paged."""
from __future__ import annotations

import time

import requests
from dagster import ConfigurableResource

from ..core.oai_pmh import parse_list_records
from ..core.retry_policy import RETRYABLE_STATUS, RateLimiter, backoff_delay, parse_retry_after


class ArxivListing(ConfigurableResource):
    base_url: str = "https://oaipmh.arxiv.org/oai"
    set_spec: str = "cs"  # an OAI set: cs, math, physics:hep-th, ...
    min_interval_s: float = 3.0
    max_retries: int = 4
    backoff_s: float = 5.0
    timeout_s: float = 60.0
    max_pages: int = 20

    def records_since(self, from_date: str) -> list[dict]:
        """Every record with a datestamp on or after `from_date` (YYYY-MM-DD); raises on
        persistent failure so the sensor retries at its next tick."""
        limiter = RateLimiter(self.min_interval_s)
        params = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": self.set_spec, "from": from_date}
        records: list[dict] = []
        for _ in range(self.max_pages):
            page = parse_list_records(self._get(params, limiter))
            records += page.records
            if not page.resumption_token:
                break
            params = {"verb": "ListRecords", "resumptionToken": page.resumption_token}
        return records

    def _get(self, params: dict, limiter: RateLimiter) -> str:
        error = ""
        for attempt in range(self.max_retries + 1):
            limiter.wait()
            retry_after = None
            try:
                response = requests.get(self.base_url, params=params, timeout=self.timeout_s)
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return response.text
                error = f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if response.status_code not in RETRYABLE_STATUS:
                    break
            if attempt < self.max_retries:
                time.sleep(backoff_delay(attempt, self.backoff_s, 600.0, retry_after))
        raise RuntimeError(f"OAI-PMH listing failed: {error}")
