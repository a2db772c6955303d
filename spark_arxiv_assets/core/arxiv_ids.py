"""arXiv identifiers: new style (2501.10120v2) and old style (hep-th/9901001v1)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_NEW_STYLE = re.compile(r"^(?P<yymm>\d{4})\.(?P<num>\d{4,5})(?:v(?P<version>\d+))?$")
_OLD_STYLE = re.compile(r"^(?P<archive>[a-z\-]+(?:\.[A-Z]{2})?)/(?P<yymm>\d{4})(?P<num>\d{3})(?:v(?P<version>\d+))?$")


class InvalidArxivId(ValueError):
    """Raised for strings that are not arXiv identifiers."""


@dataclass(frozen=True)
class ArxivId:
    base: str  # without version, e.g. "2501.10120" or "hep-th/9901001"
    version: int | None
    yymm: str  # month of submission, used for partitioning

    @property
    def safe_name(self) -> str:
        """A file-system safe name: old-style slashes become underscores."""
        return self.base.replace("/", "_")

    @property
    def abs_url_path(self) -> str:
        return f"abs/{self.base}"

    def pdf_url_path(self) -> str:
        suffix = f"v{self.version}" if self.version else ""
        return f"pdf/{self.base}{suffix}"


def parse_arxiv_id(raw: str) -> ArxivId:
    """Parse and normalise an id; strips `arXiv:` prefixes and whitespace."""
    text = str(raw).strip()
    if text.lower().startswith("arxiv:"):
        text = text[6:]
    match = _NEW_STYLE.match(text) or _OLD_STYLE.match(text)
    if not match:
        raise InvalidArxivId(f"not an arXiv id: {raw!r}")
    groups = match.groupdict()
    version = int(groups["version"]) if groups.get("version") else None
    base = text[: match.start("version") - 1] if version else text
    return ArxivId(base=base, version=version, yymm=groups["yymm"])


def safe_name(raw_id: str) -> str:
    """File-system safe name for any paper id (arXiv or not)."""
    try:
        return parse_arxiv_id(raw_id).safe_name
    except InvalidArxivId:
        return re.sub(r"[^A-Za-z0-9._-]", "_", raw_id.strip()).lstrip(".") or "unnamed"
