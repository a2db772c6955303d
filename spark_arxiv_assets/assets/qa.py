"""`qa_pairs` (per month): what the teacher wrote for each chunk; `qa_dataset`: every month's
pairs filtered, split by paper and written as training files."""
import dataclasses
import json

import pandas as pd
from dagster import (AssetCheckResult, AssetExecutionContext, AutomationCondition, Config, MetadataValue, Output, asset,
                     asset_check)

from ..core.chunk_index import ChunkIndex
from ..core.defaults import SEED
from ..core.options import options_from
from ..core.paper_families import families_with_several, paper_families
from ..core.previews import markdown_table
from ..core.qa_cache import ReplyCache
from ..core.qa_filters import FilterOptions, apply_filters, split_by_paper
from ..core.qa_generation import generate_pairs, spread_over_papers
from ..core.qa_prompts import PROMPT_VERSION, Strategy, reply_shape
from ..core.raft import PassageOrder, RaftOptions, raft_prompts
from ..core.rag_prompt import training_example
from ..io_managers.paper_tables import PaperRows
from ..resources.models import EmbeddingModel
from ..resources.storage import ArtifactStorage
from ..resources.teacher import TeacherResource, release_local_models
from ..storage.atomic import atomic_write
from .partitions import FOLLOWS_NEW_PARTITIONS, MONTHS, ONE_RUN, add_month_metadata
from .usage import reports_usage

QA_COLUMNS = ["question", "answer", "kind", "context", "title", "paper_id", "chunk_id", "page_start", "page_end",
              "grounding", "source_rank", "split", "paper_family", "teacher", "prompt_version",
              "passages", "passage_chunk_ids", "source_position", "target"]  # the RAFT prompt and its target


class QaPairsConfig(Config):
    strategy: Strategy = "answer_aware"  # see core/qa_prompts.Strategy; free wants a strong teacher
    questions_per_chunk: int = 2  # answer sentences picked (answer_aware) or questions asked (free) per chunk
    max_chunks: int | None = None  # cap per run, spread over the papers (seeded); None = every chunk
    sample_seed: int = SEED  # the order in which max_chunks takes chunks
    min_chunk_tokens: int = 40  # fragments too short to ask about are skipped
    generation_batch: int = 16  # chunks per teacher call batch (and cache checkpoint)


class QaConfig(Config):
    """Filter thresholds (`core/qa_filters.FilterOptions`), the split, and the RAFT prompts (`core/raft.RaftOptions`)."""
    min_grounding: float = FilterOptions.min_grounding
    max_question_similarity: float = FilterOptions.max_question_similarity
    min_question_answer_similarity: float = FilterOptions.min_question_answer_similarity
    max_source_rank: int | None = FilterOptions.max_source_rank  # own chunk in the top N (hybrid search); None: off
    eval_fraction: float = 0.2  # share of paper families held out for evaluation
    seed: int = RaftOptions.seed  # the split and RAFT's distractors
    passages: int = RaftOptions.passages  # k passages per training prompt, as the chat sends them
    no_source_share: float = RaftOptions.no_source_share  # prompts without the source, taught "The passages do not say."
    passage_order: PassageOrder = RaftOptions.order  # retrieved: as the chat sends them | random: source anywhere



def _write_outputs(storage: ArtifactStorage, frame: pd.DataFrame, rejected: pd.DataFrame) -> dict[str, str]:
    """Chat-format JSONL per split (loadable with `datasets.load_dataset('json', ...)`), the seed's flat
    `synthetic_arxiv_qa_dataset.json`, and the rejected rows with their filter; each written atomically."""
    out_dir = storage.path("qa")
    paths = {}
    for split in ("train", "eval"):
        rows = frame[frame["split"] == split]
        lines = [json.dumps({**training_example(q, t, ps), "paper_id": p, "chunk_id": k}, ensure_ascii=False)
                 for q, t, ps, p, k in zip(rows["question"], rows["target"], rows["passages"], rows["paper_id"],
                                           rows["chunk_id"])]
        path = out_dir / f"{split}.jsonl"
        atomic_write(path, lambda tmp, text="\n".join(lines) + ("\n" if lines else ""): tmp.write_text(text, encoding="utf-8"))
        paths[split] = str(path)
    flat = frame[["question", "answer", "context", "paper_id", "chunk_id", "split"]].to_dict(orient="records")
    seed_path = storage.path("synthetic_arxiv_qa_dataset.json")
    atomic_write(seed_path, lambda tmp: tmp.write_text(json.dumps(flat, indent=1, ensure_ascii=False), encoding="utf-8"))
    paths["seed_json"] = str(seed_path)
    rejected_path = storage.path("qa", "rejected.parquet")
    atomic_write(rejected_path, lambda tmp: rejected[["filter", "question", "answer", "paper_id", "chunk_id"]]
                 .to_parquet(tmp, index=False))
    paths["rejected"] = str(rejected_path)
    return paths


# Each month's pairs follow its chunks; Dagster's eager() would also restrict itself to the latest month.
_FOLLOWS_ITS_MONTH = AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())


@asset(group_name="qa", io_manager_key="paper_table_io_manager", kinds={"llm", "deltalake"},
       partitions_def=MONTHS, backfill_policy=ONE_RUN, automation_condition=_FOLLOWS_ITS_MONTH)
@reports_usage
def qa_pairs(context: AssetExecutionContext, config: QaPairsConfig, paper_chunks: pd.DataFrame,
             teacher: TeacherResource, storage: ArtifactStorage):
    """Sends the teacher only requests not in its reply cache (keyed by chunk, prompt and every
    teacher setting), then parses every reply; a new month costs only its own chunks."""
    backend = teacher.backend_client()
    chunks = paper_chunks[paper_chunks["n_tokens"] >= config.min_chunk_tokens].reset_index(drop=True)
    if config.max_chunks is not None:
        chunks = spread_over_papers(chunks, config.max_chunks, config.sample_seed)
    cache = ReplyCache(storage.path("qa", "teacher_cache"))
    try:
        pairs, stats = generate_pairs(chunks, backend, cache, config.strategy, config.questions_per_chunk,
                                      config.generation_batch, context.log.info)
    finally:
        release_local_models()  # the next stages (embedding, training) need the memory
    pairs["month"] = pairs["paper_id"].map(dict(zip(paper_chunks["paper_id"], paper_chunks["month"])))
    pairs["teacher"], pairs["prompt_version"] = backend.identity, PROMPT_VERSION
    add_month_metadata(context, "qa_pairs", pairs, lambda m: {"month_pairs": len(m)})
    return Output(PaperRows.of(pairs, paper_chunks["paper_id"]), metadata={
        "pairs_parsed": len(pairs),
        "strategy": config.strategy,
        "requests": stats.requests,
        "requests_generated_now": stats.generated_now,
        "unparseable_replies": stats.unparseable_replies,
        "failed_calls": stats.failed_calls,
        "teacher": MetadataValue.json(teacher.public_config()),
        "prompt_version": PROMPT_VERSION,
        # how a local teacher's reply is started and ended (its own max_new_tokens is the upper limit)
        "reply_shape": MetadataValue.json(dataclasses.asdict(reply_shape(config.strategy))),
        "completion_tokens": stats.completion_tokens,
        "generation_seconds": round(stats.seconds, 1),
        "tokens_per_second": round(stats.completion_tokens / stats.seconds, 1) if stats.seconds else 0.0,
        "preview": MetadataValue.md(markdown_table(pairs[["kind", "question", "answer", "paper_id"]], max_chars=90)),
    })


@asset(group_name="qa", io_manager_key="parquet_io_manager", kinds={"llm"},
       automation_condition=FOLLOWS_NEW_PARTITIONS)
@reports_usage
def qa_dataset(context: AssetExecutionContext, config: QaConfig, qa_pairs: pd.DataFrame, chunk_index: ChunkIndex,
               embedder: EmbeddingModel, storage: ArtifactStorage) -> Output[pd.DataFrame]:
    """Filters every month's pairs (grounding, duplicates, relevance, and a round trip through the
    index: each question must retrieve its own chunk), splits them by paper family (papers sharing
    much of their text go to one side), writes the files."""
    raw = qa_pairs.reset_index(drop=True)
    retriever = embedder.retriever(chunk_index)
    kept, removed, rejected = apply_filters(raw, options_from(FilterOptions, config), embedder.embed_function(),
                                            retriever.source_ranks)
    for name, count in removed.items():
        context.log.info(f"filter {name}: removed {count}")
    # a scan or second version of an eval paper would put its answer sentences in the training data
    families = paper_families(chunk_index.chunks["paper_id"], chunk_index.chunks["text"])
    kept["paper_family"] = kept["paper_id"].map(lambda paper_id: families.get(paper_id, paper_id))
    kept["split"] = split_by_paper(kept["paper_family"], config.eval_fraction, config.seed) if len(kept) else []
    raft = options_from(RaftOptions, config, order="passage_order")
    kept = raft_prompts(kept, lambda questions, n: retriever.search_many(questions, n), raft)[QA_COLUMNS]
    paths = _write_outputs(storage, kept, rejected)
    return Output(kept, metadata={**_dataset_metadata(raw, kept, removed, rejected, families),
                                  "files": MetadataValue.json(paths)})


def _dataset_metadata(raw: pd.DataFrame, kept: pd.DataFrame, removed: dict[str, int], rejected: pd.DataFrame,
                      families: dict[str, str]) -> dict:
    """The filter funnel, the split, the RAFT prompts, and examples of what was kept and rejected."""
    funnel = pd.DataFrame([{"stage": "pairs parsed (qa_pairs, all months)", "rows": len(raw)}]
                          + [{"stage": f"filter: {k}", "rows": -v} for k, v in removed.items()]
                          + [{"stage": "pairs kept", "rows": len(kept)}])
    return {
        "pairs_kept": len(kept),
        "pairs_parsed": len(raw),
        "keep_rate": round(len(kept) / len(raw), 3) if len(raw) else 0.0,
        "median_source_rank": float(kept["source_rank"].median()) if kept["source_rank"].notna().any() else 0.0,
        "train_rows": int((kept["split"] == "train").sum()),
        "eval_rows": int((kept["split"] == "eval").sum()),
        "train_papers": int(kept.loc[kept["split"] == "train", "paper_id"].nunique()),
        "eval_papers": int(kept.loc[kept["split"] == "eval", "paper_id"].nunique()),
        "paper_families": MetadataValue.json(families_with_several(families)),
        "prompts_without_source": int((kept["source_position"] == 0).sum()),
        "mean_passages_per_prompt": round(float(kept["passages"].map(len).mean()), 2) if len(kept) else 0.0,
        "funnel": MetadataValue.md(markdown_table(funnel, max_rows=20)),
        "removed_by_filter": MetadataValue.json(removed),
        "rejected_examples": MetadataValue.md(markdown_table(
            rejected.groupby("filter", sort=False).head(3)[["filter", "question", "answer"]], max_rows=30, max_chars=90)),
        "preview": MetadataValue.md(markdown_table(kept[["split", "kind", "question", "target", "paper_id", "grounding"]]
                                                   .round({"grounding": 2}), max_chars=90)),
    }


@asset_check(asset=qa_dataset, description="Rows are grounded in their context and no paper, nor family of papers "
             "sharing their text, is in both splits.")
def qa_grounded_and_split_by_paper(qa_dataset: pd.DataFrame) -> AssetCheckResult:
    def in_both(column: str) -> list[str]:
        if column not in qa_dataset:  # written before families were recorded
            return []
        sides = qa_dataset.groupby(column)["split"].nunique()
        return sorted(sides[sides > 1].index)

    papers, families = in_both("paper_id"), in_both("paper_family")
    ungrounded = int((qa_dataset["grounding"] < 0.5).sum())
    return AssetCheckResult(passed=len(qa_dataset) > 0 and not papers and not families and ungrounded == 0, metadata={
        "rows": len(qa_dataset), "papers_in_both_splits": MetadataValue.json(papers),
        "families_in_both_splits": MetadataValue.json(families), "ungrounded_rows": ungrounded})
