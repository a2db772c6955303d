"""Text metrics without an external judge: SQuAD-style token F1 of an answer, faithfulness (share
of the answer's content words found in the retrieved passages) and word recall of extracted
text against a reference rendering."""
from __future__ import annotations

import re
from collections import Counter

from .qa_filters import content_words

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", re.sub(r"[^\w\s.]", " ", text.lower()))
    return [t.strip(".") for t in text.split() if t.strip(".")]


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = _tokens(prediction), _tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_answer(text: str, reference: str) -> bool:
    """Every token of the reference (SQuAD-normalized: case, punctuation and articles aside) occurs in the
    text: "k = 60" is in "the authors used k of 60", "27 percent of generated pairs" is not in "27 percent"."""
    ref = set(_tokens(reference))
    return bool(ref) and ref <= set(_tokens(text))


def faithfulness(answer: str, passages: list[str]) -> float:
    words = content_words(answer)
    if not words:
        return 0.0
    return len(words & content_words(" ".join(passages))) / len(words)


def word_recall(reference: str, candidate: str) -> float:
    """Share of the reference's words (with multiplicity, order ignored) found in the candidate."""
    ref = Counter(w.lower() for w in re.findall(r"[A-Za-z0-9]+", reference))
    cand = Counter(w.lower() for w in re.findall(r"[A-Za-z0-9]+", candidate))
    return sum(min(n, cand[w]) for w, n in ref.items()) / max(1, sum(ref.values()))
