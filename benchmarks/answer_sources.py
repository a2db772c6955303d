"""Where the student's answers come from: for each held-out question of a finished `rag_evaluation`,
which retrieved passage (by rank) and which of its sentences holds the reference, and which one
each model's RAG answer copies; with two no-model rules scored the same way (the passage sentence
most like the question, which the evaluation reports too, and the first sentence of passage [1]).
It needs a finished run, so it is not part of `make bench`:

    python -m benchmarks.answer_sources --data-dir data-corpora-all --label "retrieval order"

Each label gets its own section of RESULTS.md; `--results` reads another copy of results.csv (a
run before a change) against the same index.

An answer "copies" a sentence when its token F1 against that sentence is at least 0.8.
"""
from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from spark_arxiv_assets.core.answer_metrics import token_f1
from spark_arxiv_assets.core.citations import without_citations
from spark_arxiv_assets.core.qa_prompts import sentences
from spark_arxiv_assets.core.rag_eval import ANSWERABLE, EXTRA_DEPTH, overlap_sentence
from spark_arxiv_assets.resources.models import EmbeddingModel
from spark_arxiv_assets.storage.index_store import load_latest_index

from .common import write_section

COPY = 0.8


def copied_from(text: str, passages: list[str]) -> tuple[int, int] | None:
    """(passage rank, sentence index), both 1-based, of the sentence `text` copies; None if none."""
    scored = [(token_f1(sentence, text), rank, index) for rank, passage in enumerate(passages, 1)
              for index, sentence in enumerate(sentences(passage), 1)]
    best = max(scored, default=(0.0, 0, 0))
    return (best[1], best[2]) if best[0] >= COPY else None


def where(spots: list[tuple[int, int] | None]) -> dict[str, int]:
    """Counts by passage rank, with the first sentence of each passage apart."""
    counts = Counter("none" if spot is None else f"[{spot[0]}] first sentence" if spot[1] == 1 else f"[{spot[0]}] later"
                     for spot in spots)
    return dict(sorted(counts.items()))


def analyse(data_dir: Path, results_csv: Path, k: int = 3) -> dict:
    results = pd.read_csv(results_csv)
    rag = results[(results["prompt"] == ANSWERABLE) & (results["source"] == "eval_split")]
    answers = rag.pivot_table(index="question", columns="model", values="answer", aggfunc="first")
    references = rag.groupby("question")["reference"].first()
    questions = answers.index.tolist()
    retriever = EmbeddingModel().retriever(load_latest_index(str(data_dir)))
    passages = [[hit.text for hit in hits[:k]] for hits in retriever.search_many(questions, k=k + EXTRA_DEPTH)]
    row = {"questions": len(questions), "reference": where([copied_from(references[q], p)
                                                             for q, p in zip(questions, passages)])}
    for model in ("base", "tuned"):
        row[model] = where([copied_from(without_citations(str(answers.loc[q, model])), p)
                            for q, p in zip(questions, passages)])
    first = [sentences(p[0])[0] if p and sentences(p[0]) else "" for p in passages]
    row["f1_first_sentence_of_1"] = sum(token_f1(f, references[q]) for f, q in zip(first, questions)) / len(questions)
    row["f1_overlap_sentence"] = sum(token_f1(overlap_sentence(q, p), references[q])
                                     for q, p in zip(questions, passages)) / len(questions)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="SPARK_ARXIV_DATA_DIR of a finished run")
    parser.add_argument("--results", type=Path, help="results.csv to read (default: the data dir's evaluation)")
    parser.add_argument("--label", required=True, help="what this run was, for the results table")
    args = parser.parse_args()
    row = analyse(args.data_dir, args.results or args.data_dir / "evaluation" / "results.csv")
    spots = sorted({spot for key in ("reference", "base", "tuned") for spot in row[key]})
    lines = [f"**Where answers come from** ({args.label}, {row['questions']} held-out "
             f"questions; `python -m benchmarks.answer_sources`): counts of answers that copy a sentence of "
             f"retrieved passage [n] (token F1 ≥ {COPY}), the first sentence apart.", "",
             "| | " + " | ".join(spots) + " |", "|---|" + "---|" * len(spots)]
    for key in ("reference", "base", "tuned"):
        lines.append(f"| {key} | " + " | ".join(str(row[key].get(spot, 0)) for spot in spots) + " |")
    lines += ["", f"No model: the first sentence of [1] scores token F1 {row['f1_first_sentence_of_1']:.3f}, the "
              f"passage sentence most like the question {row['f1_overlap_sentence']:.3f}."]
    print("\n".join(lines))
    slug = re.sub(r"[^a-z0-9]+", "_", args.label.lower()).strip("_")
    write_section(f"answer_sources_{slug}", "\n".join(lines), {"label": args.label, **row})


if __name__ == "__main__":
    main()
