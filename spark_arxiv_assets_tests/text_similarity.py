"""Word-level recall of extracted text against a reference (order-insensitive)."""
import re
from collections import Counter


def words(text: str) -> Counter:
    return Counter(w.lower() for w in re.findall(r"[A-Za-z0-9]+", text))


def word_recall(reference: str, candidate: str) -> float:
    ref, cand = words(reference), words(candidate)
    return sum(min(n, cand[w]) for w, n in ref.items()) / max(1, sum(ref.values()))
