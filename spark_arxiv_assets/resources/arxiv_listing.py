"""New arXiv papers from the OAI-PMH listing, politely paged."""
from __future__ import annotations

import requests
from dagster import ConfigurableResource

from ..core.oai_pmh import ListingPage, OaiError, parse_list_records
from ..core.retry_policy import RateLimiter
from .http_retry import RetryPolicy, polite_interval, request_with_retries


class ArxivListing(ConfigurableResource):
    base_url: str = "https://oaipmh.arxiv.org/oai"
    set_spec: str = "cs"  # an OAI set: cs, math, physics:hep-th, ...
    min_interval_s: float = 3.0
    max_retries: int = 4
    backoff_s: float = 5.0
    timeout_s: float = 60.0
    max_pages: int = 20  # per call; the listing goes on from the returned resumption token

    def list_records(self, from_date: str, resumption_token: str | None = None) -> ListingPage:
        """Records with a datestamp on or after `from_date` (YYYY-MM-DD), at most `max_pages`
        pages; the result's `resumption_token` is set when the listing has more, to be passed
        back on the next call. An expired token restarts from `from_date`. Raises on persistent
        failure so the sensor retries at its next tick."""
        limiter = RateLimiter(polite_interval(self.base_url, self.min_interval_s))
        start = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": self.set_spec, "from": from_date}
        params = {"verb": "ListRecords", "resumptionToken": resumption_token} if resumption_token else start
        records: list[dict] = []
        token, pages = None, 0
        while pages < self.max_pages:
            try:
                page = parse_list_records(self._get(params, limiter))
            except OaiError as exc:
                if exc.code != "badResumptionToken" or params is start:
                    raise
                params = start  # the server forgot the token: list the window again (ids are deduplicated)
                continue
            pages += 1
            records += page.records
            token = page.resumption_token
            if not token:
                break
            params = {"verb": "ListRecords", "resumptionToken": token}
        return ListingPage(records, token)

    def _get(self, params: dict, limiter: RateLimiter) -> str:
        policy = RetryPolicy(self.max_retries, self.backoff_s, 600.0)
        outcome = request_with_retries(lambda: requests.get(self.base_url, params=params, timeout=self.timeout_s),
                                       policy, limiter=limiter)
        if outcome.error is not None:
            raise RuntimeError(f"OAI-PMH listing failed: {outcome.error}")
        return outcome.response.text
