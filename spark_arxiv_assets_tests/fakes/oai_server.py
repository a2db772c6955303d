"""A fake arXiv OAI-PMH endpoint on 127.0.0.1: pages joined by resumption tokens, a deleted
record, a 503 with Retry-After before the first answer, badResumptionToken for a token it does
not know, and both metadata formats (`arXiv`, and `arXivRaw` with every version)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from .loopback import FakeHandler, LoopbackServer, send_body


@dataclass
class Listed:
    arxiv_id: str
    title: str
    day: str
    versions: list[str] = field(default_factory=lambda: ["v1"])
    deleted: bool = False


def _arxiv(paper: Listed) -> str:
    return f"""<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{paper.arxiv_id}</id>
<created>{paper.day}</created><authors><author><keyname>Lovelace</keyname><forenames>Ada</forenames></author>
<author><keyname>Babbage</keyname><forenames>Charles</forenames></author></authors><title>{paper.title}</title>
<categories>cs.IR cs.CL</categories><abstract>  An abstract
 over two lines. </abstract></arXiv>"""


def _arxiv_raw(paper: Listed) -> str:
    versions = "".join(f'<version version="{v}"><date>Mon, 2 Nov 2026 10:00:00 GMT</date><size>12kb</size></version>'
                       for v in paper.versions)
    return f"""<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{paper.arxiv_id}</id>
<submitter>Ada Lovelace</submitter>{versions}<title>{paper.title}</title><authors>Ada Lovelace, Charles Babbage</authors>
<categories>cs.IR cs.CL</categories><abstract>  An abstract
 over two lines. </abstract></arXivRaw>"""


def _record(paper: Listed, prefix: str) -> str:
    status = ' status="deleted"' if paper.deleted else ""
    header = (f"<header{status}><identifier>oai:arXiv.org:{paper.arxiv_id}</identifier>"
              f"<datestamp>{paper.day}</datestamp><setSpec>cs</setSpec></header>")
    if paper.deleted:
        return f"<record>{header}</record>"
    body = _arxiv_raw(paper) if prefix == "arXivRaw" else _arxiv(paper)
    return f"<record>{header}<metadata>{body}</metadata></record>"


DEFAULT_PAGES = [
    [Listed("2611.00001", "First new paper", "2026-11-24"), Listed("2611.00002", "Gone", "2026-11-24", deleted=True)],
    [Listed("hep-th/9901001", "An old-style id", "2026-11-25", versions=["v1", "v2"])],
]


class _Handler(FakeHandler):
    def do_GET(self):
        fake = self.fake
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        fake.requests.append(query)
        if fake.fail_first or fake.always_fail:
            fake.fail_first = False
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.end_headers()
            return
        if fake.delay_s:
            time.sleep(fake.delay_s)
        send_body(self, fake.page(query.get("resumptionToken"), query.get("metadataPrefix")).encode(), "text/xml")


class FakeOai(LoopbackServer):
    handler = _Handler
    path_prefix = "/oai"

    def __init__(self, fail_first: bool = True, pages: list[list[Listed]] | None = None, always_fail: bool = False,
                 delay_s: float = 0.0) -> None:
        self.fail_first, self.always_fail, self.delay_s = fail_first, always_fail, delay_s
        self.pages = pages or DEFAULT_PAGES
        self.requests: list[dict] = []
        self._prefixes: dict[str, str] = {}  # token → the metadata format its listing started with
        super().__init__()

    def page(self, token: str | None, prefix: str | None) -> str:
        """Page 1 without a token; page n+1 for token "page<n+1>"."""
        number = 1 if token is None else int(token[4:]) if token.startswith("page") and token[4:].isdigit() else 0
        if not 1 <= number <= len(self.pages):  # what a server answers for a token it has forgotten
            return ('<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                    '<error code="badResumptionToken">The value of the resumptionToken argument is invalid or expired.'
                    '</error></OAI-PMH>')
        prefix = prefix or self._prefixes.get(token or "", "arXiv")
        following = f"page{number + 1}" if number < len(self.pages) else ""
        if following:
            self._prefixes[following] = prefix
        resumption = f'<resumptionToken cursor="0">{following}</resumptionToken>' if following else "<resumptionToken/>"
        return ('<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
                + "".join(_record(p, prefix) for p in self.pages[number - 1]) + resumption + "</ListRecords></OAI-PMH>")
