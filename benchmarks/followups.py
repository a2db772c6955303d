"""Follow-up questions: does retrieval find the answer's page when a question refers back to the
one before it (`core/followups.py`), and what does reading the previous question cost a question
that changes the topic?

Two sets over ../shared/corpora, the default hybrid retrieval of the pipeline's structured index:
- `benchmarks/followup_questions.json`: 11 two-turn conversations, each a hand-written dev question
  followed by a second one rewritten as a reader would follow up ("And how many total steps did it
  run?"), labelled with the page of the self-contained question it was written from. Written from
  the dev part of `answer_questions.json`: a development set, there is no test part.
- topic changes: each of the 56 dev questions asked after a question about another paper.
Each second question is searched alone, as `in_context` reads it (the previous question in front
only when it refers back), and always after the previous question; hit@3 (what the student reads)
and MRR within 10 on the labelled pages.

    python -m benchmarks.followups      # part of `make bench`
"""
from __future__ import annotations

import json

from spark_arxiv_assets.core.defaults import PASSAGES_K
from spark_arxiv_assets.core.followups import in_context, refers_back
from spark_arxiv_assets.core.retrieval_eval import LabelledQuestion, first_relevant_rank, summarize_ranks

from .answer_prompts import corpus_retriever, hand_written
from .common import ROOT, write_section

FOLLOWUPS = ROOT / "benchmarks" / "followup_questions.json"
READINGS = {"alone": lambda question, previous: question, "in_context (served)": in_context,
            "always after the previous question": lambda question, previous: f"{previous[-1]} {question}"}


def _conversations() -> dict[str, list[tuple[str, str, LabelledQuestion]]]:
    """(previous question, question, labels) per set."""
    followups = [(c["first"], c["follow_up"], LabelledQuestion(c["follow_up"], c["paper_id"], c["pages"]))
                 for c in json.loads(FOLLOWUPS.read_text())]
    dev = hand_written("dev")
    changes = []
    for i, question in enumerate(dev):
        previous = next(q for q in dev[i + 1:] + dev[:i] if q["paper_id"] != question["paper_id"])
        changes.append((previous["question"], question["question"],
                        LabelledQuestion(question["question"], question["paper_id"], question["pages"])))
    written_from = [(c["first"], c["written_from"], LabelledQuestion(c["written_from"], c["paper_id"], c["pages"]))
                    for c in json.loads(FOLLOWUPS.read_text())]
    return {"follow-ups": followups, "topic changes": changes, "follow-ups written self-contained": written_from}


def run() -> dict:
    retriever = corpus_retriever()
    results = {}
    for name, conversations in _conversations().items():
        results[name] = {"refers_back": sum(refers_back(q) for _, q, _ in conversations), "readings": {}}
        for reading, read in READINGS.items():
            queries = [read(question, [previous]) for previous, question, _ in conversations]
            hits = retriever.search_many(queries, k=10)
            ranks = [first_relevant_rank(h, labels) for h, (_, _, labels) in zip(hits, conversations)]
            results[name]["readings"][reading] = summarize_ranks(ranks, ks=(1, PASSAGES_K))
    return results


def markdown(results: dict) -> str:
    rows = [f"| {name} ({len_}) | {reading} | {row[f'hit@{PASSAGES_K}']:.2f} | {row['mrr']:.3f} |"
            for name, result in results.items() for reading, row in result["readings"].items()
            for len_ in [row["questions"]]]
    flagged = "; ".join(f"{name}: {result['refers_back']}" for name, result in results.items())
    return ("## Follow-up questions\n\n`python -m benchmarks.followups`: the second question of a conversation "
            "searched alone, as the chat reads it (`core/followups.in_context`: after the previous question "
            "only when it refers back), and always after the previous question; default hybrid retrieval over "
            f"the structured index of ../shared/corpora, hit@{PASSAGES_K} and MRR within 10 on the labelled pages. "
            "Follow-ups: 11 two-turn conversations written from the hand-written dev questions (a development "
            "set); topic changes: each of the 56 dev questions asked after one about another paper.\n\n"
            f"| set | second question read | hit@{PASSAGES_K} | MRR |\n|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\nQuestions that refer back by the rule: {flagged}.")


def main() -> dict:
    results = run()
    write_section("followups", markdown(results), results)
    return results


if __name__ == "__main__":
    main()
