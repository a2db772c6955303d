"""arXiv's OAI-PMH listing (metadataPrefix=arXiv) parsed into Kaggle-snapshot records, so
newly listed papers flow through the same `arxiv_metadata` parser as a Kaggle file."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = {"oai": "http://www.openarchives.org/OAI/2.0/", "arxiv": "http://arxiv.org/OAI/arXiv/"}


class OaiError(RuntimeError):
    """An OAI-PMH error other than 'no records'; `code` is the protocol's error code
    (e.g. badResumptionToken for an expired token)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"OAI-PMH error {code}: {message}")
        self.code = code


@dataclass
class ListingPage:
    records: list[dict]  # Kaggle snapshot format
    resumption_token: str | None


def _text(element, path: str) -> str:
    found = element.find(path, NS)
    return " ".join((found.text or "").split()) if found is not None else ""


def parse_list_records(xml_text: str) -> ListingPage:
    root = ET.fromstring(xml_text)
    error = root.find("oai:error", NS)
    if error is not None:
        if error.get("code") == "noRecordsMatch":
            return ListingPage([], None)
        raise OaiError(error.get("code") or "unknown", (error.text or "").strip())
    records = []
    for record in root.iterfind(".//oai:record", NS):
        header = record.find("oai:header", NS)
        if header is not None and header.get("status") == "deleted":
            continue
        meta = record.find("oai:metadata/arxiv:arXiv", NS)
        if meta is None:
            continue
        authors = [" ".join(filter(None, [_text(a, "arxiv:forenames"), _text(a, "arxiv:keyname")]))
                   for a in meta.iterfind("arxiv:authors/arxiv:author", NS)]
        updated = _text(meta, "arxiv:updated") or _text(meta, "arxiv:created")
        records.append({
            "id": _text(meta, "arxiv:id"), "submitter": None, "authors": ", ".join(authors),
            "title": _text(meta, "arxiv:title"), "comments": _text(meta, "arxiv:comments") or None,
            "journal-ref": _text(meta, "arxiv:journal-ref") or None, "doi": _text(meta, "arxiv:doi") or None,
            "report-no": None, "categories": _text(meta, "arxiv:categories"), "license": _text(meta, "arxiv:license") or None,
            "abstract": _text(meta, "arxiv:abstract"), "versions": [], "update_date": updated,
            "datestamp": _text(header, "oai:datestamp") if header is not None else "",
        })
    token = root.find(".//oai:resumptionToken", NS)
    return ListingPage(records, (token.text or "").strip() or None if token is not None else None)
