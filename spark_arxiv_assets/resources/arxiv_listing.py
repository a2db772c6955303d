"""New arXiv papers from the OAI-PMH listing, politely paged."""
from __future__ import annotations

import requests
from dagster import ConfigurableResource

from ..core.oai_pmh import parse_list_records
from ..core.retry_policy import RateLimiter
from .http_retry import RetryPolicy, polite_interval, request_with_retries


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
        limiter = RateLimiter(polite_interval(self.base_url, self.min_interval_s))
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
        policy = RetryPolicy(self.max_retries, self.backoff_s, 600.0)
        outcome = request_with_retries(lambda: requests.get(self.base_url, params=params, timeout=self.timeout_s),
                                       policy, limiter=limiter)
        if outcome.error is not None:
            raise RuntimeError(f"OAI-PMH listing failed: {outcome.error}")
        return outcome.response.text
