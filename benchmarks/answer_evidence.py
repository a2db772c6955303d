"""Evidence-first answers on hand-written questions: which sentence to quote, and whether answering
from it beats answering from the whole passages and the no-model rule (`core/evidence.py`).

The questions are `benchmarks/answer_questions.json` (reference answers written from the labelled
pages of ../shared/corpora): the "dev" part chooses; the "test" part, drawn at random before any
answer-side code was written, is run once with `--test` after the choice.

Rows, each with the base SmolLM2-135M-Instruct, greedy with the chat's loop guard, on the default
hybrid top-3 passages of the pipeline's structured index:
- the no-model rule: the passage sentence with the highest token F1 against the question;
- the answer from the three passages (the chat before evidence-first answers);
- quotes chosen by the student's query likelihood (served) and, for comparison, by MiniLM similarity;
- the answer written from the chosen quote (served), and that answer with its quote (what a reader reads).
Differences are paired against the rule, with 95 % bootstrap intervals over questions and over papers.
Quote checks: verbatim in its passage, holds every word of the reference, placed on its PDF page by
`core/highlight.py` (and on a page the question was labelled with).

    python -m benchmarks.answer_evidence            # dev questions (part of `make bench`)
    python -m benchmarks.answer_evidence --test     # the frozen test part, once
"""
from __future__ import annotations

import time

import numpy as np

from spark_arxiv_assets.core.answer_metrics import contains_answer
from spark_arxiv_assets.core.causal_lm import load_student
from spark_arxiv_assets.core.embedding_model import embedding_function
from spark_arxiv_assets.core.evidence import Quote, candidate_quotes, choose_quotes, is_verbatim
from spark_arxiv_assets.core.generation import generate_chat
from spark_arxiv_assets.core.highlight import locate_quote
from spark_arxiv_assets.core.rag_eval import clustered_bootstrap, overlap_sentence, paired_bootstrap
from spark_arxiv_assets.core.rag_prompt import answer_messages

from .answer_prompts import EMBEDDER, hand_written, retrieved, run_part, scored
from .retrieval_quality import corpus_papers

RULE = "no model: the passage sentence most like the question"
FROM_PASSAGES = "answer from the three passages (before)"
QUOTE = "quote chosen by the student's query likelihood (served)"
QUOTE_EMBEDDING = "quote chosen by MiniLM similarity to the question"
FROM_QUOTE = "answer from the quote (served)"
READER = "answer + its quote (what a reader reads)"


def _answers(model, tokenizer, conversations: list[list[dict]]) -> list[str]:
    return [o.text for o in generate_chat(model, tokenizer, conversations, batch_size=16, max_new_tokens=64,
                                          loop_guard=True)]


def _embedding_quotes(questions: list[str], passages: list[list[str]]) -> list[Quote | None]:
    embed = embedding_function(EMBEDDER)
    chosen = []
    for question, texts in zip(questions, passages):
        candidates = candidate_quotes(texts)
        vectors = embed([question] + [c.context for c in candidates]) if candidates else None
        chosen.append(candidates[int(np.argmax(vectors[1:] @ vectors[0]))] if candidates else None)
    return chosen


def run(split: str) -> dict:
    questions = hand_written(split)
    hits, _ = retrieved(questions)
    texts = [[h.text for h in hs] for hs in hits]
    asked = [q["question"] for q in questions]
    model, tokenizer = load_student(None, "SmolLM2-135M-Instruct", device="cpu")
    seconds = {}
    began = time.perf_counter()
    quotes = choose_quotes(model, tokenizer, asked, texts)
    seconds[QUOTE] = time.perf_counter() - began
    began = time.perf_counter()
    from_quote = _answers(model, tokenizer, [answer_messages(q, [quote.context] if quote else t)
                                             for q, quote, t in zip(asked, quotes, texts)])
    seconds[FROM_QUOTE] = time.perf_counter() - began
    began = time.perf_counter()
    from_passages = _answers(model, tokenizer, [answer_messages(q, t) for q, t in zip(asked, texts)])
    seconds[FROM_PASSAGES] = time.perf_counter() - began
    answers = {RULE: [overlap_sentence(q, t) for q, t in zip(asked, texts)], FROM_PASSAGES: from_passages,
               QUOTE: [quote.text if quote else "" for quote in quotes],
               QUOTE_EMBEDDING: [quote.text if quote else "" for quote in _embedding_quotes(asked, texts)],
               FROM_QUOTE: from_quote,
               READER: [f"{a} {quote.text if quote else ''}" for a, quote in zip(from_quote, quotes)]}
    return {"split": split, "questions": questions, "answers": answers, "scores": scored(answers, questions),
            "seconds": seconds,
            "papers": [q["paper_id"] for q in questions], "quote_checks": _quote_checks(questions, hits, quotes)}


def _quote_checks(questions: list[dict], hits, quotes: list[Quote | None]) -> dict:
    """Per quote: verbatim, holds the reference, placed on its PDF page, placed on a labelled page."""
    pdfs = {paper.paper_id: paper.local_pdf for paper in corpus_papers().itertuples()}
    checks = {"verbatim": [], "holds_answer": [], "placed": [], "on_labelled_page": []}
    for question, hs, quote in zip(questions, hits, quotes):
        if quote is None:
            continue
        hit = hs[quote.passage - 1]
        placement = locate_quote(pdfs[hit.paper_id], quote.text, range(hit.page_start, hit.page_end + 1))
        checks["verbatim"].append(is_verbatim(quote, [h.text for h in hs]))
        checks["holds_answer"].append(contains_answer(quote.text, question["answer"]))
        checks["placed"].append(placement is not None)
        checks["on_labelled_page"].append(placement is not None and hit.paper_id == question["paper_id"]
                                          and placement.page in question["pages"])
    return {name: float(np.mean(values)) if values else float("nan") for name, values in checks.items()} \
        | {"quotes": sum(q is not None for q in quotes)}


def markdown(result: dict) -> str:
    papers, rule = result["papers"], np.array(result["scores"][RULE]["token_f1"])
    rows = []
    for name, score in result["scores"].items():
        f1 = np.array(score["token_f1"])
        cells = [name, f"{f1.mean():.3f}", f"{np.nanmean(score['keyword_recall']):.3f}"]
        if name == RULE:
            cells += ["–", "–", "–"]
        else:
            _, low, high = paired_bootstrap(rule, f1)
            _, plow, phigh = clustered_bootstrap(rule, f1, papers)
            cells += [f"{(f1 - rule).mean():+.3f}", f"{low:+.3f} … {high:+.3f}", f"{plow:+.3f} … {phigh:+.3f}"]
        cells.append(f"{result['seconds'][name]:.0f}" if name in result["seconds"] else "–")
        rows.append("| " + " | ".join(cells) + " |")
    checks = result["quote_checks"]
    examples = [f"- *{q['question']}* (reference: {q['answer']})\n"
                f"  - answer from the quote: {result['answers'][FROM_QUOTE][i][:160]!r}\n"
                f"  - quote: {result['answers'][QUOTE][i][:200]!r}\n"
                f"  - answer from the passages: {result['answers'][FROM_PASSAGES][i][:160]!r}\n"
                for i, q in enumerate(result["questions"][:3])]
    part = ("The dev part: choices are made here. " if result["split"] == "dev" else
            "The test part, drawn at random before any answer-side code was written, run once after the choice. ")
    return (f"## Evidence-first answers on hand-written questions ({result['split']} part)\n\n"
            f"`python -m benchmarks.answer_evidence{' --test' if result['split'] == 'test' else ''}`. "
            f"{len(result['questions'])} hand-written questions over {len(set(papers))} papers of ../shared/corpora; "
            "base SmolLM2-135M-Instruct, the default hybrid top-3, greedy with the loop guard, at most 64 new tokens. "
            + part + "Differences are against the no-model rule, paired, with 95 % bootstrap intervals over "
            "questions and over papers; seconds are for all questions on this machine.\n\n"
            "| answer | token F1 | keyword recall | − rule | interval (questions) | interval (papers) | seconds |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            f"Quotes ({checks['quotes']}): verbatim in their passage {checks['verbatim']:.0%}, holding every word of "
            f"the reference {checks['holds_answer']:.0%}, placed on their PDF page (the chat's highlight) "
            f"{checks['placed']:.0%}, placed on a page the question was labelled with {checks['on_labelled_page']:.0%}."
            "\n\nFirst answers:\n\n" + "".join(examples))


def main(argv: list[str] | None = None) -> dict:
    return run_part("answer_evidence", __doc__.splitlines()[0], run, markdown, argv)


if __name__ == "__main__":
    main()
