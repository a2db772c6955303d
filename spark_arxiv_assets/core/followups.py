"""Follow-up questions in a conversation: "And how many steps did it run?" names nothing that
retrieval could find. A question that refers back (a pronoun such as "it" or "they", or one that
starts with "and" / "what about") is read together with the previous question; one that does not
is read alone, so a change of topic is not dragged back to the last one. Measured on two-turn
questions by `benchmarks/followups.py`."""
from __future__ import annotations

import re
from collections.abc import Sequence

_REFERS_BACK = re.compile(r"^\s*(and|also|what about|how about)\b|\b(it|its|they|them|their|theirs|this|these|those|"
                          r"there|he|she|his|her|ones)\b", re.IGNORECASE)


def refers_back(question: str) -> bool:
    return bool(_REFERS_BACK.search(question))


def in_context(question: str, earlier_questions: Sequence[str]) -> str:
    """The question as retrieval and the student read it: after the previous question of the
    conversation when it refers back to it, else as it is."""
    if earlier_questions and refers_back(question):
        return f"{' '.join(earlier_questions[-1].split())} {' '.join(question.split())}"
    return question
