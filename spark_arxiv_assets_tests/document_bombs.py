"""Hostile PDFs built in code for the reliability tests: each is small on disk and expensive
(or impossible) to extract naively."""
from __future__ import annotations

from pathlib import Path

import pymupdf


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF file from object bodies (object 1 is the catalog), with a correct xref table."""
    out, offsets = b"%PDF-1.7\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def many_pages(path: Path, pages: int = 2000) -> Path:
    doc = pymupdf.open()
    for number in range(pages):
        doc.new_page().insert_text((72, 72), f"Page {number + 1} of a very long document.")
    doc.save(path)
    return path


def huge_image_page(path: Path, side_px: int = 7072) -> Path:
    """A 50-megapixel scan-like image (no text layer) on a 200 × 200 inch page: the OCR path."""
    pixmap = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, side_px, side_px), False)
    pixmap.clear_with(255)
    doc = pymupdf.open()
    page = doc.new_page(width=14400, height=14400)
    page.insert_image(page.rect, pixmap=pixmap)
    doc.save(path, deflate=True)
    return path


def cyclic_page_tree(path: Path) -> Path:
    """The page tree lists itself among its kids."""
    path.write_bytes(raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                              b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"]))
    return path


def deeply_nested(path: Path, depth: int = 200_000) -> Path:
    """A page whose annotation array nests 200,000 levels deep."""
    nested = b"[" * depth + b"]" * depth
    path.write_bytes(raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots " + nested + b" >>"]))
    return path


def not_a_pdf(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 64)  # a zip archive named .pdf
    return path


def text_bomb(path: Path, megabytes: int = 10) -> Path:
    """One page whose text layer holds ~10 MB: the same line drawn over and over in one spot."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "x", fontsize=1)  # gives the page a content stream and a font
    line = b"1 0 0 1 20 400 Tm (" + b"lorem ipsum dolor sit amet " * 4 + b") Tj "
    stream = b"BT /helv 1 Tf " + line * (megabytes * 1_000_000 // len(line)) + b"ET"
    doc.update_stream(page.get_contents()[0], stream)
    doc.save(path, deflate=True)
    return path


BOMBS = {"two-thousand-pages": many_pages, "fifty-megapixel-image": huge_image_page, "cyclic-page-tree": cyclic_page_tree,
         "deeply-nested": deeply_nested, "zip-named-pdf": not_a_pdf, "ten-mb-text-page": text_bomb}


def write_bombs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: make(folder / f"{name}.pdf") for name, make in BOMBS.items()}
