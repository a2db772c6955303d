"""arXiv's OAI-PMH listing parsed into Kaggle-snapshot records, so newly listed papers flow
through the same `arxiv_metadata` parser as a Kaggle file. `arXivRaw` records carry every
version (a paper is listed again when a new version appears); `arXiv` records do not."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = {"oai": "http://www.openarchives.org/OAI/2.0/", "arxiv": "http://arxiv.org/OAI/arXiv/",
      "raw": "http://arxiv.org/OAI/arXivRaw/"}


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
        datestamp = _text(header, "oai:datestamp") if header is not None else ""
        raw = record.find("oai:metadata/raw:arXivRaw", NS)
        meta = record.find("oai:metadata/arxiv:arXiv", NS)
        if raw is not None:
            records.append(_raw_record(raw, datestamp))
        elif meta is not None:
            records.append(_arxiv_record(meta, datestamp))
    token = root.find(".//oai:resumptionToken", NS)
    return ListingPage(records, (token.text or "").strip() or None if token is not None else None)


def _common(meta, prefix: str, datestamp: str) -> dict:
    return {"id": _text(meta, f"{prefix}:id"), "submitter": None, "title": _text(meta, f"{prefix}:title"),
            "comments": _text(meta, f"{prefix}:comments") or None,
            "journal-ref": _text(meta, f"{prefix}:journal-ref") or None, "doi": _text(meta, f"{prefix}:doi") or None,
            "report-no": None, "categories": _text(meta, f"{prefix}:categories"),
            "license": _text(meta, f"{prefix}:license") or None, "abstract": _text(meta, f"{prefix}:abstract"),
            "datestamp": datestamp}


def _arxiv_record(meta, datestamp: str) -> dict:
    authors = [" ".join(filter(None, [_text(a, "arxiv:forenames"), _text(a, "arxiv:keyname")]))
               for a in meta.iterfind("arxiv:authors/arxiv:author", NS)]
    updated = _text(meta, "arxiv:updated") or _text(meta, "arxiv:created")
    return {**_common(meta, "arxiv", datestamp), "authors": ", ".join(authors), "versions": [], "update_date": updated}


def _raw_record(meta, datestamp: str) -> dict:
    versions = [{"version": v.get("version", ""), "created": _text(v, "raw:date")}
                for v in meta.iterfind("raw:version", NS)]
    return {**_common(meta, "raw", datestamp), "authors": _text(meta, "raw:authors"),
            "submitter": _text(meta, "raw:submitter") or None, "versions": versions, "update_date": datestamp}
