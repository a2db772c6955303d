"""New arXiv papers from the OAI-PMH listing, one page at a time within a time budget (a sensor
tick must end well inside Dagster's sensor timeout)."""
from __future__ import annotations

import time

import requests
from dagster import ConfigurableResource

from ..core.http_retry import RetryPolicy, polite_interval, request_with_retries
from ..core.oai_pmh import ListingPage, OaiError, parse_list_records
from ..core.retry_policy import RateLimiter


class ArxivListing(ConfigurableResource):
    base_url: str = "https://oaipmh.arxiv.org/oai"  # the OAI-PMH endpoint the listing sensor pages through
    set_spec: str = "cs"  # an OAI set: cs, math, physics:hep-th, ...
    metadata_prefix: str = "arXivRaw"  # arXivRaw lists every version of a paper; arXiv does not
    min_interval_s: float = 3.0  # between requests
    max_retries: int = 4  # per page
    backoff_s: float = 5.0  # first wait before a retry (or Retry-After)
    timeout_s: float = 20.0  # per request
    page_budget_s: float = 40.0  # everything one page may take, retries and politeness included

    def list_page(self, from_date: str, resumption_token: str | None = None) -> ListingPage:
        """One page of records with a datestamp on or after `from_date` (YYYY-MM-DD), starting at
        `resumption_token` when given; the result's token is set when the listing goes on. An
        expired token lists the window from its start again. Raises when the page cannot be had
        within `page_budget_s`, so the sensor keeps its cursor and tries at its next tick."""
        deadline = time.monotonic() + self.page_budget_s
        limiter = RateLimiter(polite_interval(self.base_url, self.min_interval_s))
        start = {"verb": "ListRecords", "metadataPrefix": self.metadata_prefix, "set": self.set_spec,
                 "from": from_date}
        params = {"verb": "ListRecords", "resumptionToken": resumption_token} if resumption_token else start
        try:
            return parse_list_records(self._get(params, limiter, deadline))
        except OaiError as exc:
            if exc.code != "badResumptionToken" or params is start:
                raise
            return parse_list_records(self._get(start, limiter, deadline))  # ids already seen are deduplicated

    def _get(self, params: dict, limiter: RateLimiter, deadline: float) -> str:
        policy = RetryPolicy(self.max_retries, self.backoff_s, 600.0)

        def send() -> requests.Response:
            remaining = max(1.0, deadline - time.monotonic())
            return requests.get(self.base_url, params=params, timeout=min(self.timeout_s, remaining))

        outcome = request_with_retries(send, policy, limiter=limiter, deadline=deadline)
        if outcome.error is not None:
            raise RuntimeError(f"OAI-PMH listing failed: {outcome.error}")
        return outcome.response.text
