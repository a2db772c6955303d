"""Quality filters for teacher-written QA pairs. Each returns a keep-mask so the asset can
report how many rows every filter removed: tiny teachers write poor data, and the numbers
should say so rather than hide it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

STOPWORDS = frozenset("""a an and are as at be been but by can could did do does for from had has have how i if in
into is it its may might of on or our she should so than that the their them then there these they this those to
was we were what when where which while who whom why will with would you your about after also any both each
more most much not no nor only other over same such very""".split())
_WORD = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*")


def content_words(text: str) -> set[str]:
    """Lower-cased words without stop words, with a light plural strip ('models' → 'model')."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return words


def grounding_score(answer: str, context: str) -> float:
    """Share of the answer's content words found in the context (0 when it has none)."""
    answer_words = content_words(answer)
    if not answer_words:
        return 0.0
    return len(answer_words & content_words(context)) / len(answer_words)


def looks_english(text: str, sentence: bool = True) -> bool:
    """Mostly Latin letters and, for sentences of 4+ words, at least one English stop word
    (short answer phrases such as 'k = 60' only get the letter check)."""
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) / len(letters) < 0.8:
        return False
    words = text.lower().split()
    return not sentence or len(words) < 4 or any(w.strip("?,.¿") in STOPWORDS for w in words)


@dataclass(frozen=True)
class FilterOptions:
    min_grounding: float = 0.6  # share of the answer's content words that must be in its chunk
    question_words: tuple[int, int] = (4, 40)
    answer_words: tuple[int, int] = (1, 120)
    max_question_similarity: float = 0.92  # a question this close (cosine) to a kept one is a duplicate
    min_question_answer_similarity: float = 0.3  # a question must be about its answer
    max_source_rank: int | None = 10  # the question must retrieve its own chunk in the top N; None: no check


def _length_ok(text: str, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= len(text.split()) <= bounds[1]


def near_duplicate_mask(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy in row order: keep a row unless its (unit) vector is within `threshold` cosine of
    an earlier kept row. All close pairs come from one FAISS range search; Python only walks them."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    limits, _, neighbours = index.range_search(vectors, threshold - 1e-6)
    keep = np.ones(len(vectors), dtype=bool)
    for i in range(len(vectors)):
        earlier = neighbours[limits[i]:limits[i + 1]]
        if np.any(keep[earlier[earlier < i]]):
            keep[i] = False
    return keep


def apply_filters(rows: pd.DataFrame, options: FilterOptions, embed: Callable[[list[str]], np.ndarray],
                  source_ranks: Callable[[list[str], list[str], int, np.ndarray], list[int | None]] | None = None
                  ) -> tuple[pd.DataFrame, dict[str, int], pd.DataFrame]:
    """`rows` has question, answer, context, title, chunk_id. Returns kept rows (with grounding
    and source_rank columns), {filter name: rows removed} in the order the filters ran, and the
    removed rows themselves with the name of the filter that removed each (`filter`).

    `source_ranks(questions, chunk_ids, k, question_vectors)` gives the rank of each question's
    own chunk when the question is searched (a round trip): a question that cannot find its
    passage among the top `max_source_rank` is too vague to train or evaluate on ("What does
    the paper propose?"). It gets the question vectors computed here, so nothing is embedded twice."""
    removed: dict[str, int] = {}
    rejected: list[pd.DataFrame] = []
    frame = rows.copy()

    def run(name: str, mask: pd.Series | np.ndarray) -> None:
        nonlocal frame
        mask = np.asarray(mask, dtype=bool)
        removed[name] = int((~mask).sum())
        rejected.append(frame[~mask].assign(filter=name))
        frame = frame[mask].reset_index(drop=True)

    run("length_or_form", [_length_ok(q, options.question_words) and _length_ok(a, options.answer_words)
                           and q.rstrip().endswith("?") for q, a in zip(frame["question"], frame["answer"])])
    run("language", [looks_english(q) and looks_english(a, sentence=False) for q, a in zip(frame["question"], frame["answer"])])
    run("answer_repeats_question", [not content_words(a) <= content_words(q) for q, a in zip(frame["question"], frame["answer"])])
    frame["grounding"] = [grounding_score(a, c) for a, c in zip(frame["answer"], frame["context"])]
    run("not_grounded", frame["grounding"] >= options.min_grounding)
    run("answerable_from_title", [not content_words(a) <= content_words(t) for a, t in zip(frame["answer"], frame["title"])])
    # questions and answers are embedded once; the question vectors then serve the duplicate filter
    vectors = embed(frame["question"].tolist() + frame["answer"].tolist()) if len(frame) else np.zeros((0, 1))
    question_vectors = vectors[: len(frame)]
    frame["qa_similarity"] = np.sum(question_vectors * vectors[len(frame):], axis=1)
    frame["_row"] = np.arange(len(frame))
    run("question_unrelated_to_answer", frame["qa_similarity"] >= options.min_question_answer_similarity)
    normalized = frame["question"].str.lower().str.replace(r"\W+", " ", regex=True).str.strip()
    run("exact_duplicate", ~normalized.duplicated())
    run("near_duplicate", near_duplicate_mask(question_vectors[frame["_row"].to_numpy()], options.max_question_similarity)
        if len(frame) else [])
    frame["source_rank"] = np.nan
    if source_ranks is not None and options.max_source_rank and len(frame):  # last: fewest questions to search
        frame["source_rank"] = source_ranks(frame["question"].tolist(), frame["chunk_id"].tolist(),
                                            options.max_source_rank, question_vectors[frame["_row"].to_numpy()])
        run("source_not_retrieved", frame["source_rank"].notna())
    return frame.drop(columns="_row"), removed, pd.concat(rejected, ignore_index=True).drop(columns="_row", errors="ignore")


def split_by_paper(paper_ids: pd.Series, eval_fraction: float, seed: int) -> pd.Series:
    """'train'/'eval' per row, decided per paper by a seeded hash, so no paper is in both and
    the assignment of a paper never changes when others are added. With ≥ 2 papers both
    splits are non-empty. `qa_dataset` passes paper families (core/paper_families.py) as the ids."""
    import hashlib

    papers = sorted(set(paper_ids))
    score = {p: int(hashlib.sha256(f"{seed}:{p}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF for p in papers}
    eval_papers = {p for p in papers if score[p] < eval_fraction}
    if len(papers) >= 2 and not eval_papers:
        eval_papers = {min(papers, key=score.get)}
    if len(papers) >= 2 and eval_papers == set(papers):
        eval_papers.discard(max(papers, key=score.get))
    return paper_ids.map(lambda p: "eval" if p in eval_papers else "train")
