"""Scale-out: extraction + chunking through the assets' Spark path on `local[2]` and on a
two-worker standalone cluster (two 1-core workers on this machine), against one process doing
the same work in a plain loop; PDFs and page files on local disk and in a local S3 (moto).
A line through three corpus sizes gives each path's fixed and per-paper cost: Spark's fixed
overhead, and the corpus size from which it pays off."""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from .common import CORPORA, ROOT, write_section

COPIES = (1, 4, 8)  # the shared corpora's text-layer PDFs, this many times each
ROUNDS = 2
STORES = ("local disk", "local S3")


def _base_pdfs() -> list[Path]:
    return sorted(p for p in (CORPORA / "pdfs").glob("*.pdf") if not p.name.startswith("scanned"))


def _items(store: str, pdfs: dict[str, str], copies: int, run: str) -> list[tuple[str, str, str, str]]:
    """(paper_id, PDF URI, sha256, page-file URI) as `paper_pages` hands them to Spark tasks."""
    items = []
    for copy in range(copies):
        for name, uri in pdfs.items():
            paper_id = f"{Path(name).stem}-{copy}"
            items.append((paper_id, uri, "0" * 64, f"{store}/assets/paper_pages/files/{run}/{paper_id}.parquet"))
    return items


def _single_process(items, tokenizer, splitter) -> int:
    """The plain baseline: one loop that reads each PDF, extracts it, writes its pages, chunks it."""
    import pandas as pd

    from spark_arxiv_assets.core.chunking import ChunkingOptions, clean_and_chunk_paper
    from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf
    from spark_arxiv_assets.storage.tables import write_table
    from spark_arxiv_assets.storage.uris import fetched_file

    chunks = 0
    for paper_id, pdf, _, target in items:
        with fetched_file(pdf) as local:
            result = extract_pdf(local, ExtractionOptions(ocr_engine="none"), None)
        pages = [(p.page, p.text, p.blocks) for p in result.pages]
        write_table(pd.DataFrame(pages, columns=["page", "text", "blocks"]).assign(blocks=lambda f: f["blocks"].map(json.dumps)),
                    target)
        rows, _ = clean_and_chunk_paper(paper_id, paper_id, pages, splitter, tokenizer, ChunkingOptions())
        chunks += len(rows)
    return chunks


def _spark_path(spark_context, items, store: str) -> int:
    """What `paper_pages` and `paper_chunks` run: extraction tasks write page files, chunking tasks
    read them back by URI."""
    from spark_arxiv_assets.core.chunking import ChunkingOptions
    from spark_arxiv_assets.core.pdf_text import ExtractionOptions
    from spark_arxiv_assets.spark_tasks.chunking import run_chunking
    from spark_arxiv_assets.spark_tasks.extraction import run_extraction
    from spark_arxiv_assets.storage.uris import relative_name

    rows = run_extraction(spark_context, items, ExtractionOptions(ocr_engine="none"), 8, lambda _: None)
    assert all(r["kind"] == "paper" for r in rows), [r for r in rows if r["kind"] != "paper"][:1]
    assets = f"{store}/assets"
    chunk_items = [(pid, pid, relative_name(target, assets)) for pid, _, _, target in items]
    chunks = run_chunking(spark_context, chunk_items, assets, "all-MiniLM-L6-v2", ChunkingOptions(), True,
                          lambda _: None)
    return sum(r["kind"] == "chunk" for r in chunks)


def _start_session(overrides: dict[str, str]) -> tuple[object, float]:
    """A Spark session and the seconds until its executors ran a first task."""
    from spark_arxiv_assets.resources.spark import make_spark_resource

    started = time.perf_counter()
    context = make_spark_resource(overrides).spark_context
    context.parallelize(range(4), 4).count()
    return context, time.perf_counter() - started


def _timed(fn, *args) -> tuple[int, float]:
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def measure(work: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from spark_arxiv_assets.core.chunking import ChunkingOptions, make_splitter
    from spark_arxiv_assets.core.embedding_model import load_sentence_transformer
    from spark_arxiv_assets.storage.uris import as_upath
    from spark_arxiv_assets_tests.fakes.s3_server import forget_s3_clients, make_bucket, moto_s3
    from spark_arxiv_assets_tests.spark_cluster import (cluster_spark_config, standalone_cluster,
                                                        stop_active_spark_session)

    base = _base_pdfs()
    tokenizer = load_sentence_transformer("all-MiniLM-L6-v2", "cpu").tokenizer
    splitter = make_splitter(tokenizer, ChunkingOptions())
    seconds: dict[str, list[float]] = {}
    chunks: dict[str, int] = {}
    startup: dict[str, float] = {}
    with ExitStack() as stack:
        s3_env = stack.enter_context(moto_s3(work / "moto.log"))
        os.environ.update(s3_env)
        forget_s3_clients()
        bucket = make_bucket("spark-arxiv-bench")
        stores = {"local disk": str(work / "store"), "local S3": f"{bucket}/store"}
        pdfs = {"local disk": {p.name: str(p) for p in base}, "local S3": {}}
        for p in base:
            target = as_upath(f"{bucket}/pdfs/{p.name}")
            target.fs.put_file(str(p), target.path)
            pdfs["local S3"][p.name] = str(target)
        executor_env = {f"spark.executorEnv.{k}": v for k, v in s3_env.items()}

        def record(path: str, store: str, copies: int, value: int, took: float) -> None:
            key = f"{path}|{store}|{copies}"
            seconds.setdefault(key, []).append(took)
            chunks.setdefault(key, value)
            assert chunks[key] == value, f"{key}: {value} chunks, earlier {chunks[key]}"

        for round_no in range(ROUNDS):
            for store in STORES:
                for copies in COPIES:
                    items = _items(stores[store], pdfs[store], copies, f"single-{round_no}-{copies}")
                    record("single process", store, copies, *_timed(_single_process, items, tokenizer, splitter))

        stop_active_spark_session()
        for name, overrides in (("Spark local[2]", {"spark.master": "local[2]", **executor_env}),
                                ("standalone, 2 workers × 1 core", None)):
            with ExitStack() as cluster_stack:
                if overrides is None:
                    cluster = cluster_stack.enter_context(standalone_cluster(work, workers=2))
                    overrides = {**cluster_spark_config(cluster.master_url, cores=2), **executor_env}
                context, startup[name] = _start_session(overrides)
                for store in STORES:  # untimed: Python workers import PyMuPDF, pandas, the tokenizer once
                    _spark_path(context, _items(stores[store], pdfs[store], 1, f"{name[:5]}-warm"), stores[store])
                for round_no in range(ROUNDS):
                    for store in STORES:
                        for copies in COPIES:
                            items = _items(stores[store], pdfs[store], copies, f"{name[:5]}-{round_no}-{copies}")
                            record(name, store, copies, *_timed(_spark_path, context, items, stores[store]))
                stop_active_spark_session()
        forget_s3_clients()
    return {"base_papers": len(base), "copies": COPIES, "rounds": ROUNDS, "seconds": seconds, "chunks": chunks,
            "session_startup_s": startup}


def summarize(raw: dict) -> tuple[list[dict], dict]:
    """Per path and store: seconds at the smallest and largest size (median of rounds), a least-squares
    line through every size (fixed s, per-paper s), the ratio to the single process at the largest
    size, and the crossover."""
    import numpy as np

    papers = [c * raw["base_papers"] for c in raw["copies"]]
    med = {k: statistics.median(v) for k, v in raw["seconds"].items()}
    rows = []
    for key in dict.fromkeys(k.rsplit("|", 1)[0] for k in med):
        path, store = key.split("|")
        times = [med[f"{key}|{c}"] for c in raw["copies"]]
        per_paper, fixed = np.polyfit(papers, times, 1)
        rows.append({"path": path, "store": store, "t_small": times[0], "t_large": times[-1],
                     "fixed_s": float(fixed), "per_paper_s": float(per_paper),
                     "startup_s": raw["session_startup_s"].get(path, 0.0)})
    single = {r["store"]: r for r in rows if r["path"] == "single process"}
    for row in rows:
        base = single[row["store"]]
        row["vs_single_large"] = base["t_large"] / row["t_large"]
        gain = base["per_paper_s"] - row["per_paper_s"]
        overhead = row["startup_s"] + row["fixed_s"] - base["fixed_s"]
        row["crossover_papers"] = (max(0.0, overhead) / gain if gain > 0 else None) if row["path"] != "single process" else None
    return rows, {"n_small": papers[0], "n_large": papers[-1], "sizes": papers}


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        raw = measure(Path(tmp))
    rows, sizes = summarize(raw)
    table = "\n".join(
        f"| {r['path']} | {r['store']} | {r['t_small']:.1f} | {r['t_large']:.1f} | **{r['vs_single_large']:.2f}×** | "
        f"{r['startup_s']:.1f} | {r['fixed_s']:.2f} | {1000 * r['per_paper_s']:.0f} | "
        + ("—" if r["path"] == "single process" else
           "never (no per-paper gain)" if r["crossover_papers"] is None else f"≈{r['crossover_papers']:.0f}")
        + " |" for r in rows)
    markdown = (
        "## Scale-out: local[2] vs a two-worker standalone cluster vs one process\n\n"
        f"Extraction + chunking of {', '.join(map(str, sizes['sizes']))} text-layer PDFs (the shared corpora's, "
        f"repeated), page files written to the store, median of {raw['rounds']} rounds after one untimed warm-up "
        "per session. Same outputs on every path (chunk counts checked). The cluster's two workers run on this "
        "same machine, so it measures the cluster's overheads, not more hardware; the S3 server (moto) shares "
        "the 2 cores too. Session start-up (until executors ran a first task) is timed apart; \"fixed\" and "
        "\"per paper\" are a least-squares line through the sizes; the crossover is the corpus size above which "
        "the Spark path, start-up included, beats the single process on the same store.\n\n"
        f"| path | store | s ({sizes['n_small']} papers) | s ({sizes['n_large']} papers) | vs single process "
        f"({sizes['n_large']}) | session start-up s | fixed s per run | ms per paper | crossover (papers) |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + table)
    write_section("scale_out", markdown, {**raw, "rows": rows})
    print(json.dumps(rows, indent=1, default=str))
    return raw


if __name__ == "__main__":
    main()
