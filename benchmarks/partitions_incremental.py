"""What month partitions buy: adding one paper to a corpus of N papers, through the partitioned
incremental path (the new paper's month through `ingest_papers`, then `chunk_index`), against
rebuilding everything from scratch (all months, a fresh data dir) on the same corpus plus that
paper. Synthetic arXiv-named PDFs made here, spread over 4 months; Spark's session is started
before timing. Also a scaling curve (1×, 2×, 4× the papers) with the driver's peak RSS."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import write_section

MONTHS = ["2401", "2402", "2403", "2404"]
SIZES = (20, 200)
SCALE = (50, 100, 200)
PAGES_PER_PAPER = 3


def write_papers(folder: Path, count: int, start: int = 1) -> None:
    """Text-layer PDFs with distinct prose per paper (so chunks and vectors differ)."""
    import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    words = ("retrieval index partition spark month paper chunk vector dense lexical fusion query answer "
             "teacher student adapter evaluation corpus extraction page table section figure").split()
    for n in range(start, start + count):
        doc = pymupdf.open()
        for page_no in range(PAGES_PER_PAPER):
            page = doc.new_page()
            text = " ".join(words[(n * 7 + page_no * 3 + i * i) % len(words)] for i in range(450))
            page.insert_textbox(pymupdf.Rect(50, 50, 550, 800), f"Paper {n}, page {page_no + 1}. {text}", fontsize=9)
        doc.save(folder / f"{MONTHS[n % len(MONTHS)]}.{n:05d}.pdf")
        doc.close()


def _materialize(folder: Path, months: tuple[str, str], assets: list[str]) -> float:
    from dagster import DagsterInstance

    from spark_arxiv_assets.definitions import all_assets, build_resources
    from spark_arxiv_assets.months_run import materialize_months

    ops = {"arxiv_metadata": {"config": {"source": "pdf_folder", "path": str(folder)}},
           "paper_pages": {"config": {"ocr_engine": "none"}}}
    config = {"ops": {name: ops[name] for name in ops if name in assets},
              "loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    started = time.perf_counter()
    result = materialize_months(all_assets, *months, selection=assets, resources=build_resources(),
                                instance=DagsterInstance.ephemeral(), run_config=config)
    assert result.success
    return time.perf_counter() - started


INGEST_AND_INDEX = ["arxiv_metadata", "arxiv_pdfs", "paper_pages", "quarantined_papers", "paper_chunks", "chunk_index"]


def measure_add_one(n: int, work: Path) -> dict:
    """Full rebuild of N+1 papers vs the incremental run that adds the (N+1)th to N already done."""
    folder = work / f"corpus-{n}"
    write_papers(folder, n)
    first, last = "2024-01", "2024-04"
    os.environ["SPARK_ARXIV_DATA_DIR"] = str(work / f"data-incremental-{n}")
    _materialize(folder, (first, last), INGEST_AND_INDEX)  # the corpus as it was
    write_papers(folder, 1, start=n + 1)
    new_month = f"2024-{MONTHS[(n + 1) % len(MONTHS)][2:]}"
    incremental = _materialize(folder, (new_month, new_month), INGEST_AND_INDEX[:-1])
    incremental += _materialize(folder, (new_month, new_month), ["chunk_index"])
    os.environ["SPARK_ARXIV_DATA_DIR"] = str(work / f"data-rebuild-{n}")
    rebuild = _materialize(folder, (first, last), INGEST_AND_INDEX)
    return {"papers": n, "incremental_s": incremental, "rebuild_s": rebuild, "ratio": rebuild / incremental}


def scaling_point(n: int, work: Path) -> dict:
    """Wall time and driver peak RSS of a fresh process that builds metadata → index for N papers."""
    folder = work / f"scale-{n}"
    write_papers(folder, n)
    code = ("import json, resource, sys, time; from pathlib import Path; "
            "from benchmarks.partitions_incremental import INGEST_AND_INDEX, _materialize; "
            "from spark_arxiv_assets.resources.spark import make_spark_resource; "
            "make_spark_resource().spark_context; "
            "seconds = _materialize(Path(sys.argv[1]), ('2024-01', '2024-04'), INGEST_AND_INDEX); "
            "print(json.dumps({'seconds': seconds, 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")
    env = {**os.environ, "SPARK_ARXIV_DATA_DIR": str(work / f"data-scale-{n}")}
    out = subprocess.run([sys.executable, "-c", code, str(folder)], env=env, capture_output=True, text=True,
                         timeout=1800, check=True, start_new_session=True)
    return {"papers": n, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> dict:
    from spark_arxiv_assets.resources.spark import make_spark_resource

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_spark_resource().spark_context  # session start-up is not part of either path
        adds = [measure_add_one(n, work) for n in SIZES]
        curve = [scaling_point(n, work) for n in SCALE]
    raw = {"add_one": adds, "scaling": curve, "pages_per_paper": PAGES_PER_PAPER}
    rows = "\n".join(f"| {a['papers']} | {a['rebuild_s']:.1f} | {a['incremental_s']:.1f} | **{a['ratio']:.1f}×** |"
                     for a in adds)
    base = curve[0]
    scale_rows = "\n".join(f"| {c['papers']} ({c['papers'] // base['papers']}×) | {c['seconds']:.1f} | "
                           f"{c['seconds'] / base['seconds']:.2f}× | {c['rss_mb']:.0f} |" for c in curve)
    markdown = (
        "## Adding one paper: partitions vs rebuilding\n\n"
        f"Synthetic {PAGES_PER_PAPER}-page papers over 4 months, `local[2]`, Spark session started before timing. "
        "Incremental = `ingest_papers` for the new paper's month, then `chunk_index` (embeds only new chunks); "
        "rebuild = every asset up to the index over all months in a fresh data dir.\n\n"
        "| papers already there | rebuild (s) | add one, partitioned (s) | rebuild / incremental |\n|---|---|---|---|\n"
        f"{rows}\n\n"
        "Scaling: metadata → pages → chunks → index from scratch in a fresh process (Spark started before timing), "
        "with the driver's peak RSS (model weights and imports included; page text never reaches the driver):\n\n"
        "| papers | seconds | vs 1× | driver peak RSS (MB) |\n|---|---|---|---|\n"
        f"{scale_rows}")
    write_section("partitions_incremental", markdown, raw)
    print(json.dumps(raw, indent=1))
    return raw


if __name__ == "__main__":
    main()
