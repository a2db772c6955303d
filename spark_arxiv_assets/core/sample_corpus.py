"""The bundled sample: short original mini-papers rendered to PDF with PyMuPDF, in the
Kaggle metadata format, with one image-only page (needs OCR) and one truncated file."""
from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

import pymupdf

from .arxiv_ids import safe_name

PAGE = pymupdf.paper_rect("a5")
MARGIN = 48
CSS = "body {font-family: serif; font-size: 10.5pt;} h1 {font-size: 15pt;} h2 {font-size: 12pt;} p {text-align: justify;}"


def load_sample_papers() -> list[dict]:
    text = resources.files("spark_arxiv_assets").joinpath("sample/papers.json").read_text("utf-8")
    return json.loads(text)


def _paper_html(paper: dict) -> str:
    parts = [f"<h1>{html.escape(paper['title'])}</h1>", f"<p><i>{html.escape(paper['authors'])}</i></p>",
             f"<h2>Abstract</h2><p>{html.escape(paper['abstract'])}</p>"]
    for number, (heading, body) in enumerate(paper["sections"], start=1):
        parts.append(f"<h2>{number} {html.escape(heading)}</h2><p>{html.escape(body)}</p>")
    return "".join(parts)


def render_paper_pdf(paper: dict) -> bytes:
    """Lays the paper out on A5 pages, then stamps a running header and page numbers."""
    story = pymupdf.Story(html=_paper_html(paper), user_css=CSS)
    writer_target = pymupdf.DocumentWriter(path := _MemoryTarget())
    where = PAGE + (MARGIN, MARGIN, -MARGIN, -MARGIN)
    more = True
    while more:
        device = writer_target.begin_page(PAGE)
        more, _ = story.place(where)
        story.draw(device)
        writer_target.end_page()
    writer_target.close()
    doc = pymupdf.open("pdf", path.getvalue())
    for index, page in enumerate(doc):
        page.insert_text((MARGIN, 30), f"Sample corpus preprint {paper['id']}", fontsize=8)
        page.insert_text((PAGE.width / 2 - 10, PAGE.height - 22), f"{index + 1}", fontsize=8)
    doc.set_metadata({"title": paper["title"], "author": paper["authors"]})
    if paper.get("image_only_page"):
        _replace_with_image(doc, paper["image_only_page"] - 1)
    data = doc.tobytes(garbage=3, deflate=True)
    return data[: len(data) // 2] if paper.get("broken") else data


class _MemoryTarget:
    """A bytes sink for pymupdf.DocumentWriter."""

    def __init__(self) -> None:
        import io

        self._buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self._buffer.write(data)

    def seek(self, *args):
        return self._buffer.seek(*args)

    def tell(self) -> int:
        return self._buffer.tell()

    def truncate(self, *args):
        return self._buffer.truncate(*args)

    def getvalue(self) -> bytes:
        return self._buffer.getvalue()


def _replace_with_image(doc: pymupdf.Document, index: int) -> None:
    """Turns one page into a scan: a 150 dpi grey image, no text layer."""
    pix = doc[index].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
    doc.delete_page(index)
    page = doc.new_page(pno=index, width=PAGE.width, height=PAGE.height)
    page.insert_image(page.rect, stream=pix.tobytes("png"))


def kaggle_record(paper: dict) -> dict:
    """A metadata line in the Kaggle Cornell-University/arxiv snapshot format."""
    return {
        "id": paper["id"], "submitter": paper["authors"].split(",")[0], "authors": paper["authors"],
        "title": paper["title"], "comments": "sample corpus", "journal-ref": None, "doi": None,
        "report-no": None, "categories": paper["categories"], "license": None, "abstract": paper["abstract"],
        "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}],
        "update_date": paper["update_date"],
        "authors_parsed": [[name.split()[-1], " ".join(name.split()[:-1]), ""] for name in paper["authors"].split(", ")],
    }


def write_sample_corpus(target: Path) -> tuple[Path, Path]:
    """Writes `metadata.jsonl` and `pdfs/<safe id>.pdf`; returns both paths. Idempotent."""
    pdf_dir = target / "pdfs"
    pdf_dir.mkdir(parents=True, exist_ok=True)
    papers = load_sample_papers()
    for paper in papers:
        out = pdf_dir / f"{safe_name(paper['id'])}.pdf"
        if not out.exists():
            tmp = out.with_suffix(".pdf.tmp")
            tmp.write_bytes(render_paper_pdf(paper))
            tmp.replace(out)
    metadata = target / "metadata.jsonl"
    lines = [json.dumps(kaggle_record(p), ensure_ascii=False) for p in papers]
    lines.insert(3, '{"id": "0001.00001", "title": "a duplicate line, as in concatenated snapshots"}')
    lines.append("{not json: a damaged line")
    tmp = metadata.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(metadata)
    return metadata, pdf_dir
