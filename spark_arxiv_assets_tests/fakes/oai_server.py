"""A fake arXiv OAI-PMH endpoint on 127.0.0.1: two pages joined by a resumption token,
a deleted record, a 503 with Retry-After before the first answer, and badResumptionToken for
a token it does not know."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from .loopback import FakeHandler, LoopbackServer, send_body


def _record(arxiv_id: str, title: str, day: str, deleted: bool = False) -> str:
    if deleted:
        return f'<record><header status="deleted"><identifier>oai:arXiv.org:{arxiv_id}</identifier><datestamp>{day}</datestamp></header></record>'
    return f"""<record><header><identifier>oai:arXiv.org:{arxiv_id}</identifier><datestamp>{day}</datestamp>
<setSpec>cs</setSpec></header><metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{arxiv_id}</id>
<created>{day}</created><authors><author><keyname>Lovelace</keyname><forenames>Ada</forenames></author>
<author><keyname>Babbage</keyname><forenames>Charles</forenames></author></authors><title>{title}</title>
<categories>cs.IR cs.CL</categories><abstract>  An abstract
 over two lines. </abstract></arXiv></metadata></record>"""


PAGES = {
    None: [_record("2611.00001", "First new paper", "2026-11-24"), _record("2611.00002", "Gone", "2026-11-24", True)],
    "page2": [_record("hep-th/9901001", "An old-style id", "2026-11-25")],
}


def _page(token: str | None) -> str:
    if token not in PAGES:  # what a server answers for a token it has forgotten
        return ('<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                '<error code="badResumptionToken">The value of the resumptionToken argument is invalid or expired.'
                '</error></OAI-PMH>')
    resumption = '<resumptionToken cursor="0" completeListSize="3">page2</resumptionToken>' if token is None else "<resumptionToken/>"
    return ('<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
            + "".join(PAGES[token]) + resumption + "</ListRecords></OAI-PMH>")


class _Handler(FakeHandler):
    def do_GET(self):
        fake = self.fake
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        fake.requests.append(query)
        if fake.fail_first:
            fake.fail_first = False
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.end_headers()
            return
        send_body(self, _page(query.get("resumptionToken")).encode(), "text/xml")


class FakeOai(LoopbackServer):
    handler = _Handler
    path_prefix = "/oai"

    def __init__(self, fail_first: bool = True) -> None:
        self.fail_first = fail_first
        self.requests: list[dict] = []
        super().__init__()
