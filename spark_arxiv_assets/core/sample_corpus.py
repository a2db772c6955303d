"""The bundled sample: short original mini-papers rendered to PDF with PyMuPDF, in the
Kaggle metadata format, with one image-only page (needs OCR), one truncated file, a ruled table
and a figure (so structure-aware extraction has something to find)."""
from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

import pymupdf

from .arxiv_ids import safe_name

PAGE = pymupdf.paper_rect("a5")
MARGIN = 48
CSS = ("body {font-family: serif; font-size: 10.5pt;} h1 {font-size: 15pt;} h2 {font-size: 12pt;} "
       "p {text-align: justify;} table {border-collapse: collapse;} td, th {border: 1px solid black; padding: 2px;}")
FIGURE_FILE = "figure.png"


def load_sample_papers() -> list[dict]:
    text = resources.files("spark_arxiv_assets").joinpath("sample/papers.json").read_text("utf-8")
    return json.loads(text)


def _paper_html(paper: dict) -> str:
    parts = [f"<h1>{html.escape(paper['title'])}</h1>", f"<p><i>{html.escape(paper['authors'])}</i></p>",
             f"<h2>Abstract</h2><p>{html.escape(paper['abstract'])}</p>"]
    for number, (heading, body) in enumerate(paper["sections"], start=1):
        parts.append(f"<h2>{number} {html.escape(heading)}</h2><p>{html.escape(body)}</p>")
        if paper.get("table", {}).get("section") == heading:
            parts.append(_table_html(paper["table"]))
        if paper.get("figure", {}).get("section") == heading:
            parts.append(f'<p><img src="{FIGURE_FILE}" width="260"/></p><p>{html.escape(paper["figure"]["caption"])}</p>')
    return "".join(parts)


def _table_html(table: dict) -> str:
    """A ruled table under its caption, as papers set them."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table["header"])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table["rows"])
    return f"<p>{html.escape(table['caption'])}</p><table><tr>{head}</tr>{body}</table>"


def _line_chart_png(points: list[list[float]]) -> bytes:
    """A small line chart drawn with PyMuPDF (axes, a polyline, tick labels) and rasterised, as
    a figure embedded in a paper would be."""
    width, height, pad = 320, 200, 30
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    sx = lambda x: pad + (x - min(xs)) / (max(xs) - min(xs)) * (width - 2 * pad)  # noqa: E731
    sy = lambda y: height - pad - (y - min(ys)) / (max(ys) - min(ys)) * (height - 2 * pad)  # noqa: E731
    page.draw_polyline([(pad, pad / 2), (pad, height - pad), (width - pad / 2, height - pad)], color=(0, 0, 0))
    page.draw_polyline([(sx(x), sy(y)) for x, y in points], color=(0.1, 0.3, 0.8), width=2)
    for x, y in points:
        page.draw_circle((sx(x), sy(y)), 3, color=(0.1, 0.3, 0.8), fill=(0.1, 0.3, 0.8))
        page.insert_text((sx(x) - 8, height - pad + 12), f"{x:g}", fontsize=7)
    page.insert_text((2, sy(max(ys)) + 3), f"{max(ys):g}", fontsize=7)
    page.insert_text((2, sy(min(ys)) + 3), f"{min(ys):g}", fontsize=7)
    return page.get_pixmap(dpi=144).tobytes("png")


def render_paper_pdf(paper: dict) -> bytes:
    """Lays the paper out on A5 pages, then stamps a running header and page numbers."""
    archive = pymupdf.Archive()
    if paper.get("figure"):
        archive.add(_line_chart_png(paper["figure"]["points"]), FIGURE_FILE)
    story = pymupdf.Story(html=_paper_html(paper), user_css=CSS, archive=archive)
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
