"""`qa_dataset`: teacher-written (question, answer, context) triplets, filtered and split by paper."""
import json
import pandas as pd
from dagster import AssetCheckResult, AssetExecutionContext, Config, MetadataValue, Output, asset, asset_check

from ..core.chunk_index import ChunkIndex
from ..core.embeddings import encode_texts
from ..core.previews import markdown_table
from ..core.progress import Progress
from ..core.qa_cache import ReplyCache
from ..core.qa_filters import FilterOptions, apply_filters, split_by_paper
from ..core.qa_prompts import PROMPT_VERSION, TeacherOutputError, build_requests, parse_reply, prefill_for
from ..core.rag_prompt import training_example
from ..io_managers.atomic import atomic_write
from ..resources.models import EmbeddingModel
from ..resources.teacher import TeacherResource
from ..settings import data_dir
from .partitions import FOLLOWS_NEW_PARTITIONS

QA_COLUMNS = ["question", "answer", "kind", "context", "title", "paper_id", "chunk_id", "page_start", "page_end",
              "grounding", "source_rank", "split", "teacher", "prompt_version"]


class QaConfig(Config):
    # answer_aware: answers are sentences picked from the chunk and the teacher writes the question
    # (what small offline teachers can do); free: the teacher writes questions and answers (use with a
    # strong teacher such as Mistral-7B-Instruct behind an OpenAI-compatible server).
    strategy: str = "answer_aware"
    questions_per_chunk: int = 2
    max_chunks: int | None = None  # cap for quick runs; None = every chunk
    min_chunk_tokens: int = 40  # fragments too short to ask about are skipped
    generation_batch: int = 16  # chunks per teacher call batch (and cache checkpoint)
    min_grounding: float = 0.6
    max_question_similarity: float = 0.92
    min_question_answer_similarity: float = 0.3
    max_source_rank: int | None = 10  # a question must find its own chunk in the top N (hybrid search); None: off
    eval_fraction: float = 0.2
    seed: int = 13


def _write_outputs(frame: pd.DataFrame) -> dict[str, str]:
    """Chat-format JSONL per split (loadable with `datasets.load_dataset('json', ...)`) and the
    seed's flat `synthetic_arxiv_qa_dataset.json`; each written atomically."""
    out_dir = data_dir() / "qa"
    paths = {}
    for split in ("train", "eval"):
        rows = frame[frame["split"] == split]
        lines = [json.dumps({**training_example(q, a, c), "paper_id": p, "chunk_id": k}, ensure_ascii=False)
                 for q, a, c, p, k in zip(rows["question"], rows["answer"], rows["context"], rows["paper_id"], rows["chunk_id"])]
        path = out_dir / f"{split}.jsonl"
        atomic_write(path, lambda tmp, text="\n".join(lines) + ("\n" if lines else ""): tmp.write_text(text, encoding="utf-8"))
        paths[split] = str(path)
    flat = frame[["question", "answer", "context", "paper_id", "chunk_id", "split"]].to_dict(orient="records")
    seed_path = data_dir() / "synthetic_arxiv_qa_dataset.json"
    atomic_write(seed_path, lambda tmp: tmp.write_text(json.dumps(flat, indent=1, ensure_ascii=False), encoding="utf-8"))
    paths["seed_json"] = str(seed_path)
    return paths


@asset(group_name="qa", io_manager_key="parquet_io_manager", compute_kind="llm", automation_condition=FOLLOWS_NEW_PARTITIONS)
def qa_dataset(context: AssetExecutionContext, config: QaConfig, paper_chunks: pd.DataFrame, chunk_index: ChunkIndex,
               teacher: TeacherResource, embedder: EmbeddingModel) -> Output[pd.DataFrame]:
    """Generates only requests not in the reply cache, then parses, filters and splits everything.
    The index serves the round-trip filter: each question must retrieve its own chunk."""
    backend = teacher.backend_client()
    chunks = paper_chunks[paper_chunks["n_tokens"] >= config.min_chunk_tokens].reset_index(drop=True)
    if config.max_chunks is not None:
        chunks = chunks.head(config.max_chunks)
    requests = build_requests(chunks["title"].tolist(), chunks["text"].tolist(), chunks["chunk_id"].tolist(),
                              config.strategy, config.questions_per_chunk)
    keys = [r.cache_key(backend.identity, config.strategy, config.questions_per_chunk) for r in requests]
    cache = ReplyCache(data_dir() / "qa" / "teacher_cache")
    done = cache.keys()
    todo = [i for i, key in enumerate(keys) if key not in done]
    context.log.info(f"teacher {backend.identity} ({config.strategy}): {len(requests) - len(todo)} of "
                     f"{len(requests)} requests cached, {len(todo)} to generate")

    progress = Progress("teacher generation", len(todo), context.log.info, unit="requests")
    tokens = 0
    for start in range(0, len(todo), config.generation_batch):
        batch = todo[start:start + config.generation_batch]
        replies = backend.generate([requests[i].messages for i in batch], prefill=prefill_for(config.strategy))
        cache.add([{"cache_key": keys[i], "chunk_id": requests[i].chunk_id, "prompt_version": PROMPT_VERSION,
                    "teacher": backend.identity, "raw_text": r.text, "error": r.error,
                    "completion_tokens": r.completion_tokens} for i, r in zip(batch, replies)])
        tokens += sum(r.completion_tokens for r in replies)
        progress.advance(len(batch))
    generation_seconds = progress.finish() if todo else 0.0

    cached = cache.lookup(keys)
    rows, parse_failures, call_failures = [], 0, 0
    for request, raw_text in zip(requests, cached["raw_text"]):
        if not isinstance(raw_text, str):
            call_failures += 1
            continue
        try:
            pairs = parse_reply(request, raw_text)[: config.questions_per_chunk]
        except TeacherOutputError:
            parse_failures += 1
            continue
        chunk = chunks.iloc[request.row]
        rows += [{**pair, "context": chunk.text, "title": chunk.title, "paper_id": chunk.paper_id,
                  "chunk_id": chunk.chunk_id, "page_start": chunk.page_start, "page_end": chunk.page_end}
                 for pair in pairs]
    raw = pd.DataFrame(rows, columns=["question", "answer", "kind", "context", "title", "paper_id", "chunk_id",
                                      "page_start", "page_end"])
    model = embedder.load()
    embed = lambda texts: encode_texts(model, texts)  # noqa: E731
    options = FilterOptions(min_grounding=config.min_grounding, max_question_similarity=config.max_question_similarity,
                            min_question_answer_similarity=config.min_question_answer_similarity,
                            max_source_rank=config.max_source_rank)
    kept, removed, rejected = apply_filters(raw, options, embed, embedder.retriever(chunk_index).source_ranks)
    kept["split"] = split_by_paper(kept["paper_id"], config.eval_fraction, config.seed) if len(kept) else []
    kept["teacher"], kept["prompt_version"] = backend.identity, PROMPT_VERSION
    kept = kept[QA_COLUMNS]
    paths = _write_outputs(kept)
    rejected_path = data_dir() / "qa" / "rejected.parquet"
    atomic_write(rejected_path, lambda tmp: rejected[["filter", "question", "answer", "paper_id", "chunk_id"]]
                 .to_parquet(tmp, index=False))
    paths["rejected"] = str(rejected_path)
    funnel = pd.DataFrame([{"stage": "teacher requests", "rows": len(requests)},
                           {"stage": "failed calls", "rows": -call_failures},
                           {"stage": "unparseable replies", "rows": -parse_failures},
                           {"stage": "pairs parsed", "rows": len(raw)}]
                          + [{"stage": f"filter: {k}", "rows": -v} for k, v in removed.items()]
                          + [{"stage": "pairs kept", "rows": len(kept)}])
    for name, count in removed.items():
        context.log.info(f"filter {name}: removed {count}")
    return Output(kept, metadata={
        "pairs_kept": len(kept),
        "pairs_parsed": len(raw),
        "keep_rate": round(len(kept) / len(raw), 3) if len(raw) else 0.0,
        "strategy": config.strategy,
        "requests": len(requests),
        "requests_generated_now": len(todo),
        "unparseable_replies": parse_failures,
        "failed_calls": call_failures,
        "median_source_rank": float(kept["source_rank"].median()) if kept["source_rank"].notna().any() else 0.0,
        "train_rows": int((kept["split"] == "train").sum()),
        "eval_rows": int((kept["split"] == "eval").sum()),
        "train_papers": int(kept.loc[kept["split"] == "train", "paper_id"].nunique()),
        "eval_papers": int(kept.loc[kept["split"] == "eval", "paper_id"].nunique()),
        "funnel": MetadataValue.md(markdown_table(funnel, max_rows=20)),
        "removed_by_filter": MetadataValue.json(removed),
        "rejected_examples": MetadataValue.md(markdown_table(
            rejected.groupby("filter", sort=False).head(3)[["filter", "question", "answer"]], max_rows=30, max_chars=90)),
        "teacher": MetadataValue.json(teacher.public_config()),
        "prompt_version": PROMPT_VERSION,
        "completion_tokens": tokens,
        "generation_seconds": round(generation_seconds, 1),
        "tokens_per_second": round(tokens / generation_seconds, 1) if generation_seconds else 0.0,
        "files": MetadataValue.json(paths),
        "preview": MetadataValue.md(markdown_table(kept[["split", "kind", "question", "answer", "paper_id", "grounding"]]
                                                   .round({"grounding": 2}), max_chars=90)),
    })


@asset_check(asset=qa_dataset, description="Rows are grounded in their context and no paper is in both splits.")
def qa_grounded_and_split_by_paper(qa_dataset: pd.DataFrame) -> AssetCheckResult:
    train = set(qa_dataset.loc[qa_dataset["split"] == "train", "paper_id"])
    evaluation = set(qa_dataset.loc[qa_dataset["split"] == "eval", "paper_id"])
    ungrounded = int((qa_dataset["grounding"] < 0.5).sum())
    return AssetCheckResult(passed=len(qa_dataset) > 0 and not (train & evaluation) and ungrounded == 0, metadata={
        "rows": len(qa_dataset), "papers_in_both_splits": MetadataValue.json(sorted(train & evaluation)),
        "ungrounded_rows": ungrounded})
