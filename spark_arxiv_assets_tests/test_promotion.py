"""Promote, don't just publish: a new adapter is served only when it beats the served model on
held-out questions, hand-written ones included; the decision is published for the chat, and the
served version survives pruning."""
import json

import numpy as np
import pandas as pd
from dagster import build_asset_context

from spark_arxiv_assets.assets.evaluation import EvaluationConfig, _promotion
from spark_arxiv_assets.core.promotion import BASE, decide_promotion
from spark_arxiv_assets.core.rag_eval import ANSWERABLE, EvalItem
from spark_arxiv_assets.storage.adapter_store import (LINEAGE_FILE, adapter_root, record_served, served_adapter,
                                                      served_adapter_version, served_decision)
from spark_arxiv_assets.storage.atomic import VersionedDir

QUESTIONS = [("eval_split", f"generated question {i}?") for i in range(6)] + \
            [("fixed", f"hand-written question {i}?") for i in range(3)]


def _scores(values) -> pd.Series:
    return pd.Series(values, index=pd.MultiIndex.from_tuples(QUESTIONS, names=["source", "question"]), dtype=float)


def _hand_written() -> pd.Series:
    return _scores([source == "fixed" for source, _ in QUESTIONS]).astype(bool)


def test_a_worse_adapter_is_not_promoted_and_a_better_one_is():
    worse = decide_promotion(_scores([0.2] * 9), _scores([0.3] * 9), _hand_written(), "v2", "v1")
    assert not worse.promoted and worse.served() == "v1" and worse.gain < 0
    assert "-0.100 token F1" in worse.reason and "over v1 on 9 held-out questions" in worse.reason
    better = decide_promotion(_scores([0.4] * 9), _scores([0.3] * 9), _hand_written(), "v2", BASE)
    assert better.promoted and better.served() == "v2" and better.hand_written == 3
    assert better.low <= better.gain <= better.high


def test_hand_written_questions_weigh_as_much_as_all_generated_ones():
    """Generated questions reward copying passages: a gain there that costs the questions people
    wrote is no gain, however many generated questions there are; a small loss on a few
    hand-written questions does not cancel a clear gain."""
    copying = decide_promotion(_scores([0.45] * 6 + [0.1] * 3), _scores([0.3] * 9), _hand_written(), "v2", BASE)
    assert copying.gain > 0 and not copying.promoted  # pooled +0.033; by set (+0.15 - 0.2) / 2 < 0
    assert "-0.200 on the 3 hand-written ones" in copying.reason and "by question set -0.025" in copying.reason
    clear = decide_promotion(_scores([0.5] * 6 + [0.28] * 3), _scores([0.3] * 9), _hand_written(), "v2", BASE)
    assert clear.promoted and "-0.020 on the 3 hand-written ones" in clear.reason


def test_no_gain_no_promotion_and_no_questions_no_promotion():
    same = decide_promotion(_scores([0.3] * 9), _scores([0.3] * 9), _hand_written(), "v2", BASE)
    assert not same.promoted and "by question set +0.000, not above +0.000" in same.reason
    empty = decide_promotion(pd.Series(dtype=float), pd.Series(dtype=float), pd.Series(dtype=bool), "v2", BASE)
    assert not empty.promoted and empty.questions == 0 and json.dumps(empty.to_json())  # nan becomes null


NO_DATASET = pd.DataFrame({"paper_id": [], "split": []})


def _publish(base_uri: str, adapter_id: str, trained_on: tuple[str, ...] = ("2101.00001",)) -> str:
    def build(folder):
        (folder / LINEAGE_FILE).write_text(json.dumps({"adapter_id": adapter_id, "training_papers": list(trained_on)}))
        (folder / "adapter_config.json").write_text("{}")
    return VersionedDir(adapter_root(base_uri)).write(build).name


def _results(tuned: float, base: float) -> pd.DataFrame:
    rows = [{"model": model, "prompt": ANSWERABLE, "source": source, "question": question, "token_f1": f1,
             "held_out": True, "paper_id": f"0001.0000{i % 3}"}
            for i, (source, question) in enumerate(QUESTIONS) for model, f1 in (("tuned", tuned), ("base", base))]
    return pd.DataFrame(rows)


def test_the_evaluation_keeps_the_served_adapter_when_the_new_one_answers_worse(tmp_path):
    base_uri = str(tmp_path)
    items = [EvalItem(q, "answer", "0001.00001", 1, source) for source, q in QUESTIONS]
    first = _publish(base_uri, "first")
    record_served(base_uri, first, {"promoted": True, "reason": "test"})
    second = _publish(base_uri, "second")
    asked = []

    def incumbent_f1(path, held_out):  # the served adapter answering the same held-out prompts
        asked.append((path.name, len(held_out)))
        return _scores([0.5] * 9)

    context, config = build_asset_context(), EvaluationConfig()
    new_adapter = VersionedDir(adapter_root(base_uri)).version(second)
    decision = _promotion(context, config, _results(tuned=0.3, base=0.1), items, new_adapter, NO_DATASET, base_uri,
                          incumbent_f1)
    assert asked == [(first, 9)]  # the incumbent answered every held-out question
    assert not decision.promoted and decision.incumbent == first and np.isclose(decision.gain, -0.2)
    assert served_adapter_version(base_uri) == first and served_adapter(base_uri).name == first
    assert served_decision(base_uri)["decision"]["candidate"] == second

    decision = _promotion(context, config, _results(tuned=0.6, base=0.1), items, new_adapter, NO_DATASET, base_uri,
                          incumbent_f1)
    assert decision.promoted and served_adapter_version(base_uri) == second


def test_questions_on_the_served_adapters_training_papers_do_not_count(tmp_path):
    """The served adapter would answer its own training papers' questions well: only papers that
    neither adapter trained on decide."""
    base_uri = str(tmp_path)
    items = [EvalItem(q, "answer", f"0001.0000{i % 3}", 1, source) for i, (source, q) in enumerate(QUESTIONS)]
    first = _publish(base_uri, "first", trained_on=("0001.00000",))
    record_served(base_uri, first, {"promoted": True, "reason": "test"})
    new_adapter = VersionedDir(adapter_root(base_uri)).version(_publish(base_uri, "second"))
    asked = []
    decision = _promotion(build_asset_context(), EvaluationConfig(), _results(tuned=0.6, base=0.1), items,
                          new_adapter, NO_DATASET, base_uri,
                          lambda path, held_out: asked.append(len(held_out)) or _scores([0.5] * 9))
    assert asked == [6] and decision.questions == 6  # 3 of the 9 are about the served adapter's paper


def test_the_first_adapter_is_compared_with_the_base_model_and_a_stale_one_is_not_decided(tmp_path):
    base_uri = str(tmp_path)
    items = [EvalItem(q, "answer", "0001.00001", 1, source) for source, q in QUESTIONS]
    version = _publish(base_uri, "only")
    adapter = VersionedDir(adapter_root(base_uri)).version(version)
    context = build_asset_context()
    decision = _promotion(context, EvaluationConfig(), _results(tuned=0.1, base=0.3), items, adapter, NO_DATASET,
                          base_uri, lambda *_: None)
    assert decision.incumbent == BASE and not decision.promoted and served_adapter_version(base_uri) is None
    _publish(base_uri, "newer")  # published while the evaluation ran: its verdict is not about the current one
    assert _promotion(context, EvaluationConfig(), _results(tuned=0.9, base=0.1), items, adapter, NO_DATASET,
                      base_uri, lambda *_: None) is None
    assert served_adapter_version(base_uri) is None


def test_pruning_spares_the_served_version(tmp_path):
    base_uri = str(tmp_path)
    served = _publish(base_uri, "served")
    newer = [VersionedDir(adapter_root(base_uri)).write(
        lambda folder: (folder / "adapter_config.json").write_text("{}"), protect=[served]).name for _ in range(3)]
    names = {p.name for p in (tmp_path / "models" / "final_adapter" / "versions").iterdir()}
    assert served in names and set(newer[-2:]) <= names and newer[0] not in names
