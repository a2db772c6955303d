"""Whether a newly trained adapter replaces the model the chat serves: it must beat that model
(the base, or the adapter promoted before) on questions about papers it was not trained on, with
the same retrieval and prompt. A newer adapter is not a better one."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .rag_eval import paired_bootstrap

BASE = "base model"


@dataclass(frozen=True)
class PromotionDecision:
    candidate: str  # the adapter version just evaluated
    incumbent: str  # the served adapter's version, or BASE
    promoted: bool
    gain: float  # candidate − incumbent, mean token F1 over the held-out questions both answered (pooled)
    low: float  # 95 % paired-bootstrap interval of the gain
    high: float
    questions: int
    hand_written: int  # how many of those questions were written by people (the fixed set)
    hand_written_gain: float  # the gain on those alone (nan when there are none)
    min_gain: float
    reason: str

    def served(self) -> str:
        return self.candidate if self.promoted else self.incumbent

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in asdict(self).items()}

    def summary(self) -> str:
        verdict = f"promoted {self.candidate}" if self.promoted else f"kept {self.incumbent}"
        return f"{verdict}: {self.reason}"


def decide_promotion(candidate_f1: pd.Series, incumbent_f1: pd.Series, hand_written: pd.Series, candidate: str,
                     incumbent: str, min_gain: float = 0.0) -> PromotionDecision:
    """`candidate_f1` and `incumbent_f1` are token F1 per held-out question (the same index, the
    answers to the same RAG prompts); `hand_written` flags the questions people wrote. The decision
    gain is the mean of the gains on each question set, so the hand-written questions weigh as much
    as all the generated ones together, however few they are: generated questions alone reward
    copying passages, and a gain there that costs the questions people ask is no gain. Promoted when
    that gain exceeds `min_gain`; the pooled gain and its interval are reported beside it."""
    paired = pd.DataFrame({"candidate": candidate_f1, "incumbent": incumbent_f1, "hand": hand_written}).dropna()
    pooled, low, high = paired_bootstrap(paired["incumbent"].to_numpy(), paired["candidate"].to_numpy())
    per_set = (paired["candidate"] - paired["incumbent"]).groupby(paired["hand"].astype(bool)).mean()
    hand_gain = float(per_set.get(True, float("nan")))
    decisive = float(per_set.mean()) if len(per_set) else float("nan")
    hand = int(paired["hand"].astype(bool).sum())
    measured = (f"{pooled:+.3f} token F1 (95 % interval {low:+.3f} … {high:+.3f}) over {incumbent} on {len(paired)} "
                f"held-out questions" + (f", {hand_gain:+.3f} on the {hand} hand-written ones" if hand else ""))
    if paired.empty:
        promoted, reason = False, "no held-out question to compare on"
    elif decisive <= min_gain:
        promoted, reason = False, f"{measured}; by question set {decisive:+.3f}, not above {min_gain:+.3f}"
    else:
        promoted, reason = True, f"{measured}; by question set {decisive:+.3f}"
    return PromotionDecision(candidate, incumbent, promoted, pooled, low, high, len(paired), hand, hand_gain,
                             min_gain, reason)
