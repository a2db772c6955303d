"""Citations in answers: which passages a reply cites, whether it declines, and which passage supports
an answer that cites none (so every chat answer points at its evidence when a passage supports it)."""
from __future__ import annotations

import re

from .qa_filters import content_words

# Replies that decline to answer from the passages (the student's and any model's usual phrasings).
_REFUSAL = re.compile(r"\b(do(es)? not (say|mention|state|contain|specify|provide)|not (mentioned|stated|given|"
                      r"specified|provided|in the passages)|no (information|mention)|cannot (be )?(answer|determine"
                      r"|find)|can't (answer|determine|find)|(don't|do not) know|unknown from)\b", re.IGNORECASE)


def is_refusal(reply: str) -> bool:
    return bool(_REFUSAL.search(reply))


_CITATION = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


def cited_passages(reply: str, passages: int | None = None) -> set[int]:
    """Passage numbers cited as [n] or [n, m]; given the number of `passages`, only 1 … passages: a
    sentence quoted from a paper keeps the paper's own "[35]", which cites no passage."""
    numbers = {int(n) for group in _CITATION.findall(reply) for n in re.split(r"\s*,\s*", group)}
    return numbers if passages is None else {n for n in numbers if 1 <= n <= passages}


def without_citations(reply: str) -> str:
    """The reply with its [n] markers taken out, so what it says is scored apart from what it cites (as
    ALCE's evaluation does): a cited "k = 60 [2]" is as right as "k = 60", and "2" is not a wrong word."""
    return _CITATION.sub("", reply)


def supporting_passage(answer: str, passages: list[str], min_share: float = 0.5) -> int | None:
    """The passage (1-based) holding the largest share of the answer's content words, the better-ranked
    one on a tie; None when no passage holds at least `min_share` of them: then nothing is cited."""
    words = content_words(answer)
    if not words or not passages:
        return None
    shares = [len(words & content_words(passage)) / len(words) for passage in passages]
    best = max(range(len(shares)), key=lambda i: (shares[i], -i))
    return best + 1 if shares[best] >= min_share else None


def with_citation(answer: str, passages: list[str]) -> tuple[str, bool]:
    """(answer, whether a citation was added): an answer that cites a passage or declines is left as it
    is; one that cites none gets the number of the passage that supports it, if one does."""
    if cited_passages(answer, len(passages)) or is_refusal(answer):
        return answer, False
    number = supporting_passage(answer, passages)
    return (f"{answer.rstrip()} [{number}]", True) if number else (answer, False)
