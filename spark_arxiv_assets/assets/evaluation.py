"""`rag_evaluation`: did fine-tuning help? Base vs tuned, with and without retrieval."""
import json
from importlib import resources
from pathlib import Path
from typing import Callable

import pandas as pd
from dagster import AssetCheckResult, AssetExecutionContext, AssetIn, Config, MetadataValue, Output, asset, asset_check

from ..core.causal_lm import Quantization, load_student
from ..core.chunk_index import ChunkIndex
from ..core.defaults import ANSWER_MAX_NEW_TOKENS, DEFAULT_DENSE_WEIGHT, DEFAULT_FUSION, PASSAGES_K, SEED, Fusion
from ..core.evidence import Quote, choose_quotes
from ..core.generation import generate_chat, lora_merged
from ..core.plots import grouped_bars
from ..core.previews import markdown_table
from ..core.progress import Progress
from ..core.promotion import BASE, PromotionDecision, decide_promotion
from ..core.qa_generation import spread_over_papers
from ..core.rag_eval import (
    ANSWERABLE,
    OVERLAP,
    QUOTE_ALONE,
    REMOVED,
    VARIANTS,
    EvalItem,
    evaluate_rag,
    summarize,
    tuned_vs_base,
    tuned_vs_base_by_paper,
    variant_name,
)
from ..resources.models import EmbeddingModel
from ..resources.storage import ArtifactStorage
from ..resources.teacher import TeacherResource
from ..storage.adapter_store import (
    adapter_lineage,
    adapter_root,
    current_adapter_version,
    record_served,
    served_adapter,
    served_adapter_version,
)
from ..storage.atomic import VersionedDir, atomic_write
from .usage import reports_usage


class EvaluationConfig(Config):
    k: int = PASSAGES_K  # passages per question, as the chat retrieves them
    max_new_tokens: int = ANSWER_MAX_NEW_TOKENS  # longest answer, as the chat serves it
    batch_size: int = 16  # answers per generate call: 0.78x the time of 8 on 2 CPU cores (decoding shares the weights)
    max_eval_split_questions: int = 200  # eval-split questions (held-out papers), spread over those papers
    fixed_questions_path: str | None = None  # JSON list of {question, answer, paper_id, page}; default: the sample's
    fusion: Fusion = DEFAULT_FUSION  # how hybrid retrieval merges dense and BM25
    dense_weight: float = DEFAULT_DENSE_WEIGHT  # dense share of the convex hybrid score
    device: str = "auto"  # where the student runs: auto (CUDA when there is one) | cpu | cuda[:n]
    quantization: Quantization = "auto"  # auto: as the adapter was trained on CUDA, none on CPU
    judge: bool = False  # also ask the `teacher` backend to grade faithfulness and relevance (RAGAS style)
    promotion_min_gain: float = 0.0  # token F1 the new adapter must gain over the served model to be served


def _fixed_questions(path: str | None) -> list[EvalItem]:
    text = Path(path).read_text() if path else \
        resources.files("spark_arxiv_assets").joinpath("sample/eval_questions.json").read_text()
    return [EvalItem(q["question"], q["answer"], q["paper_id"], q.get("page"), "fixed") for q in json.loads(text)]


@asset(group_name="student", io_manager_key="parquet_io_manager", kinds={"pytorch"})
@reports_usage
def rag_evaluation(context: AssetExecutionContext, config: EvaluationConfig, qa_dataset: pd.DataFrame,
                   chunk_index: ChunkIndex, student_adapter: Path, embedder: EmbeddingModel,
                   storage: ArtifactStorage, teacher: TeacherResource) -> Output[pd.DataFrame]:
    """Evaluates on the eval split and on a fixed question set. tuned − base counts only
    questions about papers the adapter was not trained on (its `lineage.json`, with their paper
    families); questions about its training papers are scored and reported apart. Then it decides
    whether the chat serves the new adapter: only if it beats the served model (`core/promotion.py`)."""
    items = _evaluation_items(config, qa_dataset, set(chunk_index.chunks["paper_id"]))
    context.log.info(f"evaluating {len(items)} questions × {len(VARIANTS)} variants")
    student = StudentAnswers(student_adapter, config, Progress("answering", len(items) * len(VARIANTS),
                                                               context.log.info, unit="answers", every_s=30))
    context.log.info(f"student on {student.model.device}")
    judge_backend = teacher.backend_client() if config.judge else None
    judge = (lambda conversations: [r.text for r in judge_backend.generate(conversations)]) if judge_backend else None
    retriever = embedder.retriever(chunk_index, fusion=config.fusion, dense_weight=config.dense_weight)
    embed = embedder.embed_function()
    results = evaluate_rag(items, retriever, {"base": student.base, "tuned": student.tuned}, embed, k=config.k,
                           judge=judge, quotes=student.quotes)
    student.progress.finish()
    results["held_out"] = ~results["paper_id"].isin(trained_papers(student_adapter, qa_dataset))

    def incumbent_f1(adapter_path: Path, held_out: list[EvalItem]) -> pd.Series:
        frame = evaluate_rag(held_out, retriever, {"served": student.with_adapter(adapter_path)}, embed, k=config.k,
                             variants=[("served", ANSWERABLE)], no_model_row=False, quotes=student.quotes)
        return frame.drop_duplicates(["source", "question"]).set_index(["source", "question"])["token_f1"]

    decision = _promotion(context, config, results, items, student_adapter, qa_dataset, storage.base_uri, incumbent_f1)
    files = _write_files(storage, results)
    return Output(results, metadata={**_promotion_metadata(decision), **_results_metadata(results, items, config, _families(qa_dataset)),
                                     "judge": judge_backend.identity if judge_backend else "off",
                                     "files": MetadataValue.json({name: str(path) for name, path in files.items()})})


def _evaluation_items(config: EvaluationConfig, qa_dataset: pd.DataFrame, known_papers: set[str]) -> list[EvalItem]:
    """Eval-split questions spread over the held-out papers, then the fixed questions about papers in the index."""
    rows = spread_over_papers(qa_dataset[qa_dataset["split"] == "eval"], config.max_eval_split_questions, seed=SEED)
    items = [EvalItem(q, a, p, int(s), "eval_split", c) for q, a, p, s, c in
             zip(rows["question"], rows["answer"], rows["paper_id"], rows["page_start"], rows["chunk_id"])]
    return items + [item for item in _fixed_questions(config.fixed_questions_path) if item.paper_id in known_papers]


class StudentAnswers:
    """The student choosing the evidence of each RAG prompt and answering batches of conversations
    greedily with the chat's loop guard (what a chat user gets at temperature 0): as its base, with the
    new adapter, or with another adapter (the served one) loaded beside it."""

    def __init__(self, adapter: Path, config: EvaluationConfig, progress: Progress) -> None:
        self.model, self.tokenizer = load_student(adapter, device=config.device, quantization=config.quantization)
        self.config, self.progress = config, progress
        self._quotes: dict[tuple[str, tuple[str, ...]], Quote | None] = {}

    def _generate(self, conversations: list[list[dict]], on_batch=None) -> list[str]:
        return [o.text for o in generate_chat(self.model, self.tokenizer, conversations, self.config.batch_size,
                                              self.config.max_new_tokens, loop_guard=True, on_batch=on_batch)]

    def quotes(self, questions: list[str], passages: list[list[str]]) -> list[Quote | None]:
        """The evidence each RAG prompt is answered from, chosen by the base student as the chat chooses it;
        chosen once per (question, passages): the served adapter's comparison asks the same prompts again."""
        keys = [(question, tuple(texts)) for question, texts in zip(questions, passages)]
        new = list(dict.fromkeys(key for key in keys if key not in self._quotes))
        if new:
            progress = Progress("choosing quotes", len(new), self.progress.log, unit="questions", every_s=30)
            chosen = choose_quotes(self.model, self.tokenizer, [q for q, _ in new], [list(t) for _, t in new],
                                   on_each=progress.advance)
            progress.finish()
            self._quotes.update(zip(new, chosen))
        return [self._quotes[key] for key in keys]

    def base(self, conversations: list[list[dict]]) -> list[str]:
        with self.model.disable_adapter():
            return self._generate(conversations, self.progress.advance)

    def tuned(self, conversations: list[list[dict]]) -> list[str]:
        with lora_merged(self.model):
            return self._generate(conversations, self.progress.advance)

    def with_adapter(self, adapter_path: Path) -> Callable[[list[list[dict]]], list[str]]:
        def generate(conversations: list[list[dict]]) -> list[str]:
            self.model.load_adapter(str(adapter_path), adapter_name="served")
            self.model.set_adapter("served")
            try:
                with lora_merged(self.model):
                    return self._generate(conversations)
            finally:
                self.model.set_adapter("default")
                self.model.delete_adapter("served")
        return generate


def _write_files(storage: ArtifactStorage, results: pd.DataFrame) -> dict[str, Path]:
    """results.csv (every answer) and summary.json (held-out questions, per variant), atomically."""
    out_dir = storage.path("evaluation")
    files = {"results": out_dir / "results.csv", "summary": out_dir / "summary.json"}
    summary = summarize(results[results["held_out"]])
    atomic_write(files["results"], lambda tmp: results.to_csv(tmp, index=False))
    atomic_write(files["summary"], lambda tmp: tmp.write_text(summary.to_json(orient="records", indent=1)))
    return files


def _promotion_metadata(decision: PromotionDecision | None) -> dict:
    if decision is None:
        return {"promoted": False, "served_model": "unchanged",
                "promotion": "no decision: the evaluated adapter is no longer the latest one published"}
    return {"promoted": decision.promoted, "served_model": decision.served(), "promotion": decision.summary()}


def _gain_metadata(held_out: pd.DataFrame, families: dict[str, str]) -> dict:
    """tuned − base with RAG and its 95 % paired-bootstrap intervals, over questions and over paper
    families (questions about one family are correlated: the honest interval is the wider one)."""
    gain, low, high = tuned_vs_base(held_out, "token_f1")
    _, family_low, family_high = tuned_vs_base(held_out, "token_f1", families)
    return {"tuned_minus_base_f1_with_rag": round(gain, 4),
            "tuned_minus_base_f1_ci95": MetadataValue.json([round(low, 4), round(high, 4)]),
            "tuned_minus_base_f1_ci95_by_paper_family": MetadataValue.json([round(family_low, 4), round(family_high, 4)]),
            "paper_families_asked_about": int(held_out["paper_id"].map(lambda p: families.get(p, p)).nunique()),
            "tuned_beats_base_with_rag": bool(low > 0)}  # the whole interval over questions above 0


def _results_metadata(results: pd.DataFrame, items: list[EvalItem], config: EvaluationConfig,
                      families: dict[str, str]) -> dict:
    """What the UI shows: held-out numbers first (tuned − base with its interval, per paper, the no-model
    row for scale), then the questions on training papers apart."""
    held_out, trained_on = results[results["held_out"]], results[~results["held_out"]]
    summary = summarize(held_out)
    by_variant = summary.set_index("variant")
    question_set = results["source"].where(results["held_out"], results["source"] + ", trained on")
    by_source = results.groupby([question_set.rename("questions"), "variant"])["token_f1"].mean().unstack().round(3)
    tuned_rag, base_rag = variant_name("tuned", ANSWERABLE), variant_name("base", ANSWERABLE)
    tuned_removed, base_removed = variant_name("tuned", REMOVED), variant_name("base", REMOVED)
    retrieval = f"hybrid, {config.fusion}" + (f" (dense weight {config.dense_weight})" if config.fusion == "convex" else "")
    return {
        "questions": len(items),
        "held_out_questions": int(held_out["question"].nunique()),
        "questions_on_training_papers": int(trained_on["question"].nunique()),
        "training_papers_asked_about": MetadataValue.json(sorted(set(trained_on["paper_id"]))),
        "tuned_minus_base_f1_on_training_papers": round(tuned_vs_base(trained_on, "token_f1")[0], 4),  # not held out
        "eval_split_questions": sum(i.source == "eval_split" for i in items),
        "fixed_questions": sum(i.source == "fixed" for i in items),
        "retrieval": f"{retrieval}, top {config.k}",
        "summary": MetadataValue.md(markdown_table(summary)),
        "token_f1_by_source": MetadataValue.md(markdown_table(by_source.reset_index())),
        "chart": MetadataValue.md(grouped_bars(summary, ["token_f1", "contains_answer", "citation_accuracy", "refused"],
                                               "variant")),
        **_gain_metadata(held_out, families),
        "tuned_minus_base_f1_by_paper": MetadataValue.md(markdown_table(tuned_vs_base_by_paper(results))),
        "overlap_sentence_f1_with_rag": _value(by_variant, OVERLAP, "token_f1"),  # no model: what F1 means here
        "citation_accuracy_tuned_rag": _value(by_variant, tuned_rag, "citation_accuracy"),
        "citation_accuracy_base_rag": _value(by_variant, base_rag, "citation_accuracy"),
        **_quote_metadata(by_variant),
        "refusal_accuracy_tuned": _value(by_variant, tuned_removed, "refused"),
        "refusal_accuracy_base": _value(by_variant, base_removed, "refused"),
        "judge_unanswered": int((results["rag"] & (results["prompt"] == ANSWERABLE) & ~results["judged"]).sum())
                            if config.judge else 0,
        "examples": MetadataValue.md(markdown_table(results[["variant", "question", "answer", "token_f1"]].round(2),
                                                    max_rows=12, max_chars=70)),
    }


def _quote_metadata(by_variant: pd.DataFrame) -> dict:
    """The evidence shown with each answer, scored by itself (verbatim is 1.0 by construction, and checked)."""
    return {f"quote_alone_{column}": _value(by_variant, QUOTE_ALONE, column)
            for column in ("token_f1", "quote_verbatim", "quote_holds_answer")}


def _promotion(context: AssetExecutionContext, config: EvaluationConfig, results: pd.DataFrame, items: list[EvalItem],
               adapter: Path, qa_dataset: pd.DataFrame, base_uri: str,
               incumbent_f1: Callable[[Path, list[EvalItem]], pd.Series]) -> PromotionDecision | None:
    """Compares the adapter just evaluated with the served model (the base, or the adapter promoted
    before, which then answers the same RAG prompts) on questions about papers neither trained on,
    and publishes which one the chat serves."""
    candidate = current_adapter_version(base_uri)
    published = VersionedDir(adapter_root(base_uri)).version(candidate)
    if published is None or adapter_lineage(published) != adapter_lineage(adapter):
        context.log.warning("a newer adapter was published during the evaluation: no promotion decision")
        return None
    incumbent, incumbent_path = served_adapter_version(base_uri), served_adapter(base_uri)
    if incumbent is not None and incumbent_path is None:
        context.log.warning(f"the served adapter {incumbent} is gone: comparing with the base model")
        incumbent = None
    rag = results[results["held_out"] & (results["prompt"] == ANSWERABLE)].drop_duplicates(["model", "source", "question"])
    if incumbent is not None and incumbent != candidate:  # its own training papers would favour it
        rag = rag[~rag["paper_id"].isin(trained_papers(incumbent_path, qa_dataset))]
    f1 = {model: frame.set_index(["source", "question"])["token_f1"] for model, frame in rag.groupby("model")}
    tuned = f1.get("tuned", pd.Series(dtype=float))
    if incumbent is None:
        before = f1.get("base", pd.Series(dtype=float))
    elif incumbent == candidate:
        before = tuned  # a re-evaluation of the served adapter: it cannot beat itself, and stays
    else:
        before = incumbent_f1(incumbent_path, [i for i in items if (i.source, i.question) in tuned.index])
    hand_written = pd.Series(tuned.index.get_level_values("source") == "fixed", index=tuned.index)
    decision = decide_promotion(tuned, before, hand_written, candidate, incumbent or BASE, config.promotion_min_gain)
    if incumbent != candidate:
        record_served(base_uri, candidate if decision.promoted else incumbent, decision.to_json())
    context.log.info(f"promotion: {decision.summary()}")
    return decision


def _families(qa_dataset: pd.DataFrame) -> dict[str, str]:
    """paper id → paper family (versions and near-duplicates of one work), where qa_dataset knows it."""
    if "paper_family" not in qa_dataset:
        return {}
    return dict(zip(qa_dataset["paper_id"], qa_dataset["paper_family"]))


def trained_papers(adapter: Path, qa_dataset: pd.DataFrame) -> set[str]:
    """Papers the adapter saw in training, and every paper of their families. An adapter without
    `lineage.json` (trained before it was written) is taken to have seen qa_dataset's train split."""
    lineage = adapter_lineage(adapter)
    papers = set(lineage.get("training_papers") or qa_dataset.loc[qa_dataset["split"] == "train", "paper_id"])
    families = set(lineage.get("training_families") or [])
    if "paper_family" in qa_dataset:
        papers |= set(qa_dataset.loc[qa_dataset["paper_family"].isin(families), "paper_id"])
    return papers


def _value(summary: pd.DataFrame, variant: str, column: str) -> float:
    value = summary.loc[variant, column]
    return float(value) if pd.notna(value) else float("nan")


@asset_check(asset=rag_evaluation, additional_ins={"student_adapter": AssetIn("student_adapter"),
                                                   "qa_dataset": AssetIn("qa_dataset")},
             description="No question counted in tuned − base is about a paper (or paper family) the adapter "
                         "was trained on.")
def evaluation_gain_excludes_training_papers(rag_evaluation: pd.DataFrame, student_adapter: Path,
                                             qa_dataset: pd.DataFrame) -> AssetCheckResult:
    trained = trained_papers(student_adapter, qa_dataset)
    counted = rag_evaluation[rag_evaluation.get("held_out", pd.Series(True, index=rag_evaluation.index)).astype(bool)]
    leaked = sorted(set(counted["paper_id"]) & trained)
    return AssetCheckResult(passed=not leaked, metadata={"leaked_papers": MetadataValue.json(leaked),
                                                         "training_papers": len(trained)})


@asset_check(asset=rag_evaluation, description="Every quote shown with an answer is its passage's own words, "
                                               "character for character.")
def quotes_are_verbatim(rag_evaluation: pd.DataFrame) -> AssetCheckResult:
    quoted = rag_evaluation[rag_evaluation["quote"].notna()] if "quote" in rag_evaluation else rag_evaluation.iloc[:0]
    forged = int((~quoted["quote_verbatim"].astype(bool)).sum()) if len(quoted) else 0
    return AssetCheckResult(passed=forged == 0, metadata={"quotes": len(quoted), "not_verbatim": forged})


@asset_check(asset=rag_evaluation, description="Every variant answered every question, and every metric is a number.")
def evaluation_covers_all_variants(rag_evaluation: pd.DataFrame) -> AssetCheckResult:
    counts = rag_evaluation.groupby("variant")["question"].size()
    scored = rag_evaluation[rag_evaluation["prompt"] != REMOVED]
    passed = (len(counts) == len(VARIANTS) + 2 and counts.nunique() == 1 and len(rag_evaluation) > 0  # + no-model rows
              and scored[["token_f1", "similarity"]].notna().all().all())
    return AssetCheckResult(passed=bool(passed), metadata={"rows_per_variant": MetadataValue.json(counts.to_dict())})
