"""Where extraction and embedding time goes: the same PDFs through a plain single-process
PyMuPDF loop, a `multiprocessing` pool of 2, and the asset's Spark path (`run_extraction` on
`local[2]`: tasks fork one child per paper and write its pages file); Spark's session start-up
is timed apart. Then embedding: the asset's `encode_texts` against sentence-transformers'
`encode` on the same texts and batch size, and `encode_with_spark` on `local[2]`."""
from __future__ import annotations

import json
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .common import CORPORA, write_section

MIN_PAGES = 500
ROUNDS = 3
EMBED_TEXTS = 256


def _corpus() -> tuple[list[Path], int]:
    """Text-layer PDFs of the shared corpora, repeated until they hold MIN_PAGES pages."""
    from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf

    options = ExtractionOptions(ocr_engine="none")
    base = sorted(p for p in (CORPORA / "pdfs").glob("*.pdf") if not p.name.startswith("scanned"))
    pages = {p: len(extract_pdf(str(p), options, None).pages) for p in base}
    paths, total = [], 0
    while total < MIN_PAGES:
        for p in base:
            paths.append(p)
            total += pages[p]
    return paths, total


def _plain(path: str) -> int:
    import pymupdf

    with pymupdf.open(path) as doc:
        return sum(len(page.get_text()) for page in doc)


def _extract_in_process(path: str) -> int:
    from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf

    return len(extract_pdf(path, ExtractionOptions(ocr_engine="none"), None).pages)


def _extract_isolated(paths: list[str]) -> int:
    """A Spark task's work without Spark: its papers through `extract_papers` (a bounded child)."""
    from spark_arxiv_assets.core.page_extraction import extract_papers
    from spark_arxiv_assets.core.pdf_text import ExtractionOptions

    return sum(1 for _ in extract_papers([("p", p, "") for p in paths], ExtractionOptions(ocr_engine="none")))


def extraction(work: Path) -> dict:
    from spark_arxiv_assets.core.pdf_text import ExtractionOptions
    from spark_arxiv_assets.resources.spark import make_spark_resource
    from spark_arxiv_assets.spark_tasks.extraction import run_extraction

    paths, pages = _corpus()
    started = time.perf_counter()
    spark = make_spark_resource().spark_context
    startup = time.perf_counter() - started
    options = ExtractionOptions(ocr_engine="none")
    times: dict[str, list[float]] = {"plain_get_text": [], "single_process": [], "pool_2": [], "pool_2_isolated": [],
                                     "spark_local_2": []}
    for round_no in range(ROUNDS):  # interleaved, so machine noise hits all alike
        started = time.perf_counter()
        for p in paths:
            _plain(str(p))
        times["plain_get_text"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for p in paths:
            _extract_in_process(str(p))
        times["single_process"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(2) as pool:
            pool.map(_extract_in_process, [str(p) for p in paths], chunksize=2)
        times["pool_2"].append(time.perf_counter() - started)
        started = time.perf_counter()
        # pool workers are daemonic and may not fork; an executor's workers may
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            tasks = [[str(p) for p in paths[i::8]] for i in range(8)]  # as many tasks as the Spark path
            list(pool.map(_extract_isolated, tasks))
        times["pool_2_isolated"].append(time.perf_counter() - started)
        items = [(f"p{i}", str(p), f"{i:064d}", str(work / f"r{round_no}" / f"p{i}.parquet"))
                 for i, p in enumerate(paths)]
        started = time.perf_counter()
        rows = run_extraction(spark, items, options, papers_per_task=8, log=lambda _: None)
        times["spark_local_2"].append(time.perf_counter() - started)
        assert sum(r.get("n_pages", 0) for r in rows) == pages
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {"papers": len(paths), "pages": pages, "spark_startup_s": startup, "rounds": ROUNDS, "seconds": times,
            "pages_per_s": {k: pages / v for k, v in medians.items()},
            "spark_vs_single": medians["single_process"] / medians["spark_local_2"],
            "spark_vs_pool": medians["pool_2"] / medians["spark_local_2"],
            "spark_vs_isolated_pool": medians["pool_2_isolated"] / medians["spark_local_2"]}


def embedding() -> dict:
    from spark_arxiv_assets.core.embeddings import encode_texts
    from spark_arxiv_assets.resources.models import EmbeddingModel
    from spark_arxiv_assets.resources.spark import make_spark_resource
    from spark_arxiv_assets.spark_tasks.embedding import encode_with_spark

    words = "retrieval partition month paper chunk vector dense lexical fusion query answer corpus".split()
    texts = [" ".join(words[(i * 5 + j * j) % len(words)] for j in range(160)) for i in range(EMBED_TEXTS)]
    embedder = EmbeddingModel()
    model = embedder.load()
    model.encode(texts[:32], batch_size=embedder.batch_size)  # warm-up
    times: dict[str, list[float]] = {"direct": [], "asset_path": []}
    for _ in range(ROUNDS):
        started = time.perf_counter()
        model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True)
        times["direct"].append(time.perf_counter() - started)
        started = time.perf_counter()
        encode_texts(model, texts, embedder.batch_size)
        times["asset_path"].append(time.perf_counter() - started)
    spark = make_spark_resource().spark_context
    started = time.perf_counter()
    encode_with_spark(spark, texts, embedder.model, embedder.device, embedder.batch_size)
    spark_s = time.perf_counter() - started
    direct, asset = statistics.median(times["direct"]), statistics.median(times["asset_path"])
    return {"texts": len(texts), "batch_size": embedder.batch_size, "seconds": times, "spark_local_2_s": spark_s,
            "chunks_per_s": {"direct": len(texts) / direct, "asset_path": len(texts) / asset,
                             "spark_local_2": len(texts) / spark_s},
            "asset_vs_direct": direct / asset}


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ext = extraction(Path(tmp))
    emb = embedding()
    rate = ext["pages_per_s"]
    markdown = (
        "## Extraction and embedding throughput\n\n"
        f"{ext['papers']} text-layer PDFs of the shared corpora (repeated), {ext['pages']} pages, median of "
        f"{ext['rounds']} interleaved rounds, 2 cores. Spark session start-up, timed apart: "
        f"{ext['spark_startup_s']:.1f} s.\n\n"
        "| path | pages/s | vs single process |\n|---|---|---|\n"
        f"| PyMuPDF `get_text` loop (no cleaning, no limits) | {rate['plain_get_text']:.0f} | "
        f"{rate['plain_get_text'] / rate['single_process']:.2f}× |\n"
        f"| `extract_pdf` in one process | {rate['single_process']:.0f} | 1.00× |\n"
        f"| `multiprocessing` pool of 2 | {rate['pool_2']:.0f} | {rate['pool_2'] / rate['single_process']:.2f}× |\n"
        f"| pool of 2 running the Spark task's body (`extract_papers`: a bounded child per task) | "
        f"{rate['pool_2_isolated']:.0f} | "
        f"{rate['pool_2_isolated'] / rate['single_process']:.2f}× |\n"
        f"| asset path: Spark `local[2]`, the same body, pages written to Parquet | "
        f"{rate['spark_local_2']:.0f} | **{ext['spark_vs_single']:.2f}×** (pool: {ext['spark_vs_pool']:.2f}×, "
        f"isolated pool: {ext['spark_vs_isolated_pool']:.2f}×) |\n\n"
        f"Embedding {emb['texts']} chunks of ≈160 words, batch {emb['batch_size']}: sentence-transformers `encode` "
        f"{emb['chunks_per_s']['direct']:.1f} chunks/s, the asset's `encode_texts` "
        f"{emb['chunks_per_s']['asset_path']:.1f} chunks/s (**{emb['asset_vs_direct']:.2f}×**), `encode_with_spark` "
        f"on `local[2]` {emb['chunks_per_s']['spark_local_2']:.1f} chunks/s (one model per task, load included).")
    raw = {"extraction": ext, "embedding": emb}
    write_section("spark_throughput", markdown, raw)
    print(json.dumps(raw, indent=1, default=str))
    return raw


if __name__ == "__main__":
    main()
