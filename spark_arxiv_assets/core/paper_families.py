"""Papers that share much of their text are one family: a scanned copy of a paper's first pages, a
second version, a preprint and its journal version. The split by paper keeps a family on one side;
otherwise an eval question's answer sentence is already in the training data under another id."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from itertools import combinations
from typing import Iterable

SHINGLE_WORDS = 5
MIN_CONTAINMENT = 0.3  # on the README's 12 real PDFs: unrelated papers share under 2% of their 5-grams, a scan 67%
MAX_PAPERS_PER_SHINGLE = 10  # a 5-gram in more papers than this is boilerplate, not evidence of copying

_WORD = re.compile(r"[a-z0-9]+")


def word_shingles(text: str, size: int = SHINGLE_WORDS) -> set[int]:
    """Hashes of the text's runs of `size` words (lower case, punctuation dropped: OCR and line
    breaks change the punctuation of a copy more than its words)."""
    words = _WORD.findall(text.lower())
    return {hash(" ".join(words[i:i + size])) for i in range(len(words) - size + 1)}


def paper_families(paper_ids: Iterable[str], texts: Iterable[str],
                   min_containment: float = MIN_CONTAINMENT) -> dict[str, str]:
    """paper id → its family's name (the family's smallest paper id). Two papers are one family when
    at least `min_containment` of the word 5-grams of either are also in the other; families are
    joined transitively. Every paper given is in the result, most in a family of its own. The split
    hashes the family's name, so a paper can change sides when one with a smaller id joins it."""
    shingles: dict[str, set[int]] = defaultdict(set)
    for paper_id, text in zip(paper_ids, texts):
        shingles[paper_id] |= word_shingles(text)
    holders: dict[int, list[str]] = defaultdict(list)
    for paper_id, own in shingles.items():
        for shingle in own:
            holders[shingle].append(paper_id)
    shared: Counter = Counter()
    for papers in holders.values():
        if 1 < len(papers) <= MAX_PAPERS_PER_SHINGLE:
            shared.update(combinations(sorted(papers), 2))

    parent = {paper_id: paper_id for paper_id in shingles}

    def root(paper_id: str) -> str:
        while parent[paper_id] != paper_id:
            parent[paper_id] = parent[parent[paper_id]]
            paper_id = parent[paper_id]
        return paper_id

    for (first, second), count in shared.items():
        if count >= min_containment * min(len(shingles[first]), len(shingles[second])):
            low, high = sorted((root(first), root(second)))
            parent[high] = low  # the smaller id names the family
    return {paper_id: root(paper_id) for paper_id in shingles}


def families_with_several(families: dict[str, str]) -> dict[str, list[str]]:
    """Only the families of more than one paper, for metadata: {family name: [paper ids]}."""
    members: dict[str, list[str]] = defaultdict(list)
    for paper_id, family in sorted(families.items()):
        members[family].append(paper_id)
    return {family: papers for family, papers in members.items() if len(papers) > 1}
