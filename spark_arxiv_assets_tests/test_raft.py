"""RAFT prompts: the source among retrieved distractors (or left out, with a refusal as the target),
distractors from the same split's papers only, never a passage that states the answer."""
import pandas as pd

from spark_arxiv_assets.core.answer_metrics import contains_answer
from spark_arxiv_assets.core.citations import (cited_passages, is_refusal, supporting_passage, with_citation,
                                               without_citations)
from spark_arxiv_assets.core.raft import NOT_IN_PASSAGES, RaftOptions, raft_prompts
from spark_arxiv_assets.core.retrieval import Hit


def _hit(chunk_id: str, paper_id: str, text: str) -> Hit:
    return Hit(vector_id=0, chunk_id=chunk_id, paper_id=paper_id, title="T", page_start=1, page_end=1, text=text, score=1.0)


CORPUS = [_hit("a1", "A", "Fusion used k = 60 in all runs."),  # states B's answer: never a distractor for it
          _hit("a2", "A", "Dense retrieval used MiniLM."),
          _hit("b1", "B", "Reciprocal rank fusion with k = 60."),
          _hit("b2", "B", "BM25 used default parameters."),
          _hit("c1", "C", "OCR ran at 200 dpi."),
          _hit("c2", "C", "Tables were kept whole.")]


def _search(questions, n):
    return [CORPUS[:n] for _ in questions]  # every question retrieves the whole corpus, in order


def _rows(count: int) -> pd.DataFrame:
    return pd.DataFrame([{"question": f"Which k? ({i})", "answer": "k = 60", "context": "Reciprocal rank fusion with k = 60.",
                          "chunk_id": "b1", "paper_id": "B", "split": "train"} for i in range(count)]
                        + [{"question": "What dpi?", "answer": "200 dpi", "context": "OCR ran at 200 dpi.",
                            "chunk_id": "c1", "paper_id": "C", "split": "eval"}])


def test_source_among_same_split_distractors_with_the_answer_as_target():
    out = raft_prompts(_rows(40), _search, RaftOptions(passages=3, no_source_share=0.25, seed=1))
    train = out[out["split"] == "train"]
    for row in train.itertuples():
        assert "a1" not in row.passage_chunk_ids  # holds the answer
        assert not {"c1", "c2"} & set(row.passage_chunk_ids)  # an eval paper's text never enters training prompts
        if row.source_position:
            assert row.passage_chunk_ids[row.source_position - 1] == "b1"
            assert row.target == "k = 60"  # the served prompt numbers no passages: the chat attributes the answer
        else:
            assert "b1" not in row.passage_chunk_ids and row.target == NOT_IN_PASSAGES
    with_source = train[train["source_position"] > 0]
    assert 0 < (train["source_position"] == 0).sum() < len(train)  # about a quarter left out
    assert all(ids == ["b1", "b2"] for ids in with_source["passage_chunk_ids"])  # in retrieval order, as the chat sends
    assert train["passages"].map(len).max() == 2  # only B is a training paper: b2 is its one distractor
    shuffled = raft_prompts(_rows(40), _search, RaftOptions(passages=3, no_source_share=0.25, seed=1, order="random"))
    assert set(shuffled.loc[shuffled["split"] == "train", "source_position"]) == {0, 1, 2}  # the source anywhere
    evaluation = out[out["split"] == "eval"].iloc[0]
    assert set(evaluation.passage_chunk_ids) <= {"c1", "c2"}
    assert raft_prompts(_rows(40), _search, RaftOptions(passages=3, no_source_share=0.25, seed=1)).equals(out)


def test_the_source_keeps_its_retrieval_rank_among_the_distractors():
    rows = pd.DataFrame([{"question": "Which k?", "answer": "k = 60", "context": "Reciprocal rank fusion with k = 60.",
                          "chunk_id": "b1", "paper_id": "B", "split": "train"},
                         {"question": "Which parameters?", "answer": "default", "context": "BM25 used default parameters.",
                          "chunk_id": "b2", "paper_id": "B", "split": "train"}])
    ranked = [CORPUS[3], CORPUS[1], CORPUS[5], CORPUS[2]]  # b2, a2, c2, b1 ...
    out = raft_prompts(rows, lambda qs, n: [ranked if q == "Which k?" else [CORPUS[2]] for q in qs],
                       RaftOptions(passages=3, no_source_share=0.0))
    assert out.loc[0, "passage_chunk_ids"] == ["b2", "b1"] and out.loc[0, "target"] == "k = 60"  # b2 outranks it
    assert out.loc[1, "passage_chunk_ids"] == ["b1", "b2"] and out.loc[1, "source_position"] == 2  # not found: last


def test_a_row_without_distractors_keeps_its_source():
    rows = pd.DataFrame([{"question": "Which k?", "answer": "k = 60", "context": "k = 60.", "chunk_id": "b1",
                          "paper_id": "B", "split": "train"}])
    out = raft_prompts(rows, lambda qs, n: [[] for _ in qs], RaftOptions(no_source_share=1.0))
    assert out.loc[0, "source_position"] == 1 and out.loc[0, "passages"] == ["k = 60."]


def test_reply_parsing():
    assert cited_passages("k = 60 [2], see also [1, 3].") == {1, 2, 3}
    assert cited_passages("no citation") == set()
    assert cited_passages("BookSum [35] uses whole books [2].", passages=3) == {2}  # the paper's own [35] is no passage
    assert without_citations("k = 60 [2], see also [1, 3].") == "k = 60, see also." and without_citations("[n]") == "[n]"
    assert is_refusal("The passages do not say.") and is_refusal("This is not mentioned in the passages.")
    assert not is_refusal("Fusion used k = 60 [1].")
    assert contains_answer("Fusion used  K = 60\nin all runs.", "k = 60.") and not contains_answer("k = 6", "k = 60")
    assert contains_answer("The authors used the constant k of 60.", "k = 60")  # paraphrase tolerant
    assert not contains_answer("It removed 27 percent.", "27 percent of generated pairs")


def test_an_answer_without_citation_gets_its_supporting_passage_and_nothing_is_invented():
    passages = ["OCR takes five seconds per page.", "Reciprocal rank fusion used the constant k = 60.",
                "Fusion merges rankings."]
    assert supporting_passage("The authors used the constant k of 60 for reciprocal rank fusion.", passages) == 2
    assert with_citation("They used k = 60.", passages) == ("They used k = 60. [2]", True)
    assert with_citation("They used k = 60 [3].", passages) == ("They used k = 60 [3].", False)  # the model's own
    assert with_citation("Fusion [35] used k = 60.", passages) == ("Fusion [35] used k = 60. [2]", True)  # quoted
    assert with_citation("The passages do not say.", passages) == ("The passages do not say.", False)
    assert with_citation("Bananas are yellow fruit.", passages) == ("Bananas are yellow fruit.", False)


def test_answer_loop_guard_bans_repeating_the_answer_not_copying_the_prompt():
    import torch

    from spark_arxiv_assets.core.generation import answer_loop_guard

    guard = answer_loop_guard(prompt_length=3, n=3)
    scores = guard(torch.tensor([[1, 2, 3, 1, 2, 3, 1, 2]]), torch.zeros(1, 5))
    assert scores[0, 3] == -float("inf") and torch.isfinite(scores[0, [0, 1, 2, 4]]).all()  # "1 2 3" again: banned
    scores = guard(torch.tensor([[1, 2, 3, 1, 2]]), torch.zeros(1, 5))
    assert torch.isfinite(scores).all()  # "1 2 3" is in the prompt only: copying it stays allowed
