"""QA factory: parsing with repairs, filters, split by paper, teacher backends (a fake
OpenAI-compatible server with faults, and the real local SmolLM2), and the asset."""
import json

import numpy as np
import pandas as pd
import pytest

from spark_arxiv_assets.core.qa_filters import FilterOptions, apply_filters, grounding_score, split_by_paper
from spark_arxiv_assets.core.qa_prompts import (
    QUESTION_REPLY,
    ReplyShape,
    TeacherOutputError,
    answer_candidates,
    build_requests,
    parse_question_only,
    parse_reply,
    parse_teacher_output,
    reply_shape,
)
from spark_arxiv_assets.core.rag_prompt import CONTEXT
from spark_arxiv_assets.resources.teacher import LocalTransformersTeacher, OpenAICompatibleTeacher

from .fakes.openai_server import FakeOpenAI
from .months import SAMPLE_MONTH, run_months


@pytest.mark.parametrize("reply", [
    '{"questions": [{"question": "What is k?", "answer": "60", "kind": "numeric"}]}',
    'Here you go:\n```json\n{"questions": [{"question": "What is k?", "answer": "60",}]}\n```',
    '[{"question": "What is k?", "answer": 60}]',
    '{"questions": [{"question": \u201cWhat is k?\u201d, "answer": "60"}]} Hope this helps!',
    '{"questions": [{"question": "What is k?", "answer": "60"}]}\n{"questions": [{"question": "Why?", "answer": "x"}]}',
    '{"questions": [{"question": "What is k?", "answer": "60"}, {"question": "cut off by max_tok',
])
def test_parser_repairs_common_breakage(reply):
    pairs = parse_teacher_output(reply)
    assert pairs[0]["question"] == "What is k?" and pairs[0]["answer"] == "60"


@pytest.mark.parametrize("reply", ["I cannot help with that.", "{}", '{"questions": "none"}', ""])
def test_parser_rejects_replies_without_pairs(reply):
    with pytest.raises(TeacherOutputError):
        parse_teacher_output(reply)


def test_answer_aware_parsing_and_candidates():
    assert parse_question_only('{"question": "How many chunks?"}', "61,400 chunks")[0]["kind"] == "numeric"
    assert parse_question_only('{"question": "How many chunks were there in the collectio', "x")[0]["question"]
    text = ("Figure 1: A caption that should never be used as an answer here. We built the collection from 1,200 "
            "papers published between 2019 and 2023. Short one. The method uses BM25 with k1 = 1.5 and b = 0.75 "
            "over lower-cased word tokens.")
    picked = answer_candidates(text, 2)
    assert len(picked) == 2 and not any(p.startswith("Figure") for p in picked)
    requests = build_requests(["T"], [text], ["c1"], "answer_aware", 2)
    assert [r.answer for r in requests] == picked
    assert len({r.cache_key("t", "answer_aware", 2) for r in requests}) == 2


def _rows(pairs, context="Reciprocal rank fusion with k = 60 improved MRR to 0.61 on 450 questions.", title="RRF"):
    return pd.DataFrame([{"question": q, "answer": a, "context": context, "title": title, "paper_id": "p",
                          "chunk_id": f"c{i}"} for i, (q, a) in enumerate(pairs)])


def fake_embed(texts):
    """Bag-of-words vectors: similar wording → similar vectors (enough to test the filter logic)."""
    vocab = sorted({w for t in texts for w in t.lower().split()})
    vectors = np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=np.float32) + 1e-3
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_each_filter_removes_what_it_should_and_reports_counts():
    rows = _rows([
        ("What value of k did reciprocal rank fusion use?", "k = 60"),                  # kept
        ("What value of k did reciprocal rank fusion use?", "k = 60"),                  # exact duplicate
        ("Which MRR did reciprocal rank fusion reach?", "The moon is made of cheese"),  # not grounded
        ("k?", "60"),                                                                   # too short
        ("What is RRF about in this paper", "RRF"),                                     # no question mark
        ("Was reciprocal rank fusion evaluated with questions?", "reciprocal rank fusion questions"),  # repeats
        ("¿Cuál fue el valor de k en la fusión?", "k = 60"),                            # language
    ])
    kept, removed, rejected = apply_filters(rows, FilterOptions(min_question_answer_similarity=0.0), fake_embed)
    assert kept["question"].tolist() == ["What value of k did reciprocal rank fusion use?"]
    assert removed["exact_duplicate"] == 1 and removed["not_grounded"] == 1
    assert removed["length_or_form"] == 2 and removed["answer_repeats_question"] == 1 and removed["language"] == 1
    assert sum(removed.values()) == len(rows) - 1
    assert rejected["filter"].value_counts().to_dict() == {k: v for k, v in removed.items() if v}
    assert rejected.loc[rejected["filter"] == "not_grounded", "answer"].tolist() == ["The moon is made of cheese"]


def test_title_only_answers_are_removed():
    rows = _rows([("What is the paper's method called in its title?", "reciprocal rank fusion")],
                 title="Reciprocal Rank Fusion for Hybrid Retrieval")
    kept, removed, _ = apply_filters(rows, FilterOptions(min_question_answer_similarity=0.0), fake_embed)
    assert kept.empty and removed["answerable_from_title"] == 1


def test_questions_that_cannot_find_their_own_chunk_are_removed():
    rows = _rows([("What value of k did reciprocal rank fusion use?", "k = 60"),
                  ("Which MRR did the fusion reach on the questions?", "0.61"),
                  ("How many questions were used to measure MRR?", "450")])
    searched = []

    def source_ranks(questions, chunk_ids, k, vectors):
        searched.append((chunk_ids, k, vectors.shape[0]))
        return [{"c0": 1, "c1": None, "c2": 7}[c] for c in chunk_ids]  # c1's question retrieved other chunks only

    options = FilterOptions(min_question_answer_similarity=0.0, max_source_rank=8)
    kept, removed, rejected = apply_filters(rows, options, fake_embed, source_ranks)
    assert kept["chunk_id"].tolist() == ["c0", "c2"] and kept["source_rank"].tolist() == [1, 7]
    assert rejected[["chunk_id", "filter"]].values.tolist() == [["c1", "source_not_retrieved"]]
    assert removed["source_not_retrieved"] == 1 and searched == [(["c0", "c1", "c2"], 8, 3)]  # one batch

    off = FilterOptions(min_question_answer_similarity=0.0, max_source_rank=None)
    kept, removed, _ = apply_filters(rows, off, fake_embed, source_ranks)
    assert len(kept) == 3 and "source_not_retrieved" not in removed and kept["source_rank"].isna().all()


def test_a_chunk_cap_is_spread_over_every_paper_and_is_repeatable():
    from spark_arxiv_assets.core.qa_generation import spread_over_papers

    # six papers sorted by id, the first much longer: a head(120) would take only its chunks
    sizes = {"p1": 400, "p2": 30, "p3": 30, "p4": 30, "p5": 10, "p6": 30}
    chunks = pd.DataFrame([{"paper_id": p, "chunk_id": f"{p}-{i}"} for p, n in sizes.items() for i in range(n)])
    picked = spread_over_papers(chunks, 120, seed=13)
    per_paper = picked["paper_id"].value_counts().to_dict()
    assert len(picked) == 120 and set(per_paper) == set(sizes)
    assert per_paper["p5"] == 10  # a short paper gives all it has, the others share the rest
    assert max(per_paper.values()) - min(v for p, v in per_paper.items() if p != "p5") <= 1
    assert picked.index.is_monotonic_increasing  # the corpus order is kept
    assert picked["chunk_id"].tolist() == spread_over_papers(chunks, 120, seed=13)["chunk_id"].tolist()
    assert picked["chunk_id"].tolist() != spread_over_papers(chunks, 120, seed=14)["chunk_id"].tolist()
    assert spread_over_papers(chunks, 10_000, seed=13) is chunks  # under the cap: everything


def test_grounding_score():
    assert grounding_score("k = 60", "fusion with k = 60") == 1.0
    assert grounding_score("the of and", "anything") == 0.0


def test_split_by_paper_is_deterministic_disjoint_and_stable():
    papers = pd.Series([f"p{i}" for i in range(50) for _ in range(3)])
    split = split_by_paper(papers, 0.2, seed=13)
    by_paper = pd.DataFrame({"p": papers, "s": split}).groupby("p")["s"].nunique()
    assert (by_paper == 1).all() and 0.05 < (split == "eval").mean() < 0.4
    assert split.equals(split_by_paper(papers, 0.2, seed=13))
    more = split_by_paper(pd.concat([papers, pd.Series(["new1", "new2"])], ignore_index=True), 0.2, seed=13)
    assert more[: len(papers)].equals(split)  # adding papers never moves old ones
    assert set(split_by_paper(pd.Series(["a", "b"]), 0.2, 13)) == {"train", "eval"}


def test_openai_backend_retries_429_and_500_and_reports_malformed(monkeypatch):
    monkeypatch.setenv("TEACHER_API_KEY", "sk-test-secret")
    messages = [{"role": "user", "content": "<passage>\nBM25 uses k1. It also uses b.\n</passage>\nAnswer: x\n"}]
    with FakeOpenAI(["429", "500", "ok", "malformed", "bad_body"]) as server:
        teacher = OpenAICompatibleTeacher(server.base_url, "mistral-7b-instruct", "sk-test-secret", max_concurrency=1,
                                          timeout_s=2, max_retries=3, temperature=0.0, max_tokens=64, json_mode=True,
                                          backoff_s=0.01)
        first = teacher.generate([messages])[0]
        second, third = teacher.generate([messages, messages])
        assert server.requests[0]["auth"] == "Bearer sk-test-secret"
        assert server.requests[0]["body"]["response_format"] == {"type": "json_object"}
    assert json.loads(first.text)["question"] and first.error is None
    with pytest.raises(TeacherOutputError):
        parse_teacher_output(second.text)
    assert third.text is None and "malformed response body" in third.error


def test_openai_backend_times_out_then_gives_up_with_reason():
    with FakeOpenAI(["slow"], slow_s=1.5) as server:
        teacher = OpenAICompatibleTeacher(server.base_url, "m", None, 2, timeout_s=0.3, max_retries=1, temperature=0,
                                          max_tokens=16, json_mode=False, backoff_s=0.01)
        reply = teacher.generate([[{"role": "user", "content": "<passage>\nx\n</passage>"}]])[0]
    assert reply.text is None and "Timeout" in reply.error and "after 2 attempts" in reply.error


def test_local_teacher_generates_a_batch_with_the_bundled_smollm2():
    teacher = LocalTransformersTeacher("SmolLM2-135M-Instruct", "cpu", batch_size=2, max_new_tokens=24, temperature=0.0)
    conversations = [[{"role": "user", "content": "Say hello."}], [{"role": "user", "content": "Name a colour, please."}]]
    replies = teacher.generate(conversations, ReplyShape(prefill='{"question": "'))
    assert len(replies) == 2 and all(r.text.startswith('{"question": "') and r.completion_tokens > 0 for r in replies)
    alone = teacher.generate(conversations[:1], ReplyShape(prefill='{"question": "'))[0]
    assert alone.text == replies[0].text  # left padding: batching does not change greedy output


def test_an_answer_aware_reply_ends_where_its_question_closes_the_object():
    """The stop string ends each row on its own; the batch is not held to the token limit."""
    passage = ("Reciprocal rank fusion sums one over k plus the rank of a document in every list. "
               "We set k to 60 in all experiments, as in the original paper.")
    requests = build_requests(["Hybrid retrieval"] * 2, [passage, passage], ["c1", "c2"], "answer_aware", 2)
    teacher = LocalTransformersTeacher("SmolLM2-135M-Instruct", "cpu", batch_size=2, max_new_tokens=256, temperature=0.0)
    replies = teacher.generate([r.messages for r in requests], reply_shape("answer_aware"))
    for request, reply in zip(requests, replies):
        assert reply.text.rstrip("} \n").endswith('"') and reply.completion_tokens <= QUESTION_REPLY.max_tokens
        [pair] = parse_reply(request, reply.text)
        assert pair["question"].endswith("?") and pair["answer"] == request.answer


def test_a_local_reply_never_writes_an_avoided_phrase():
    teacher = LocalTransformersTeacher("SmolLM2-135M-Instruct", "cpu", batch_size=1, max_new_tokens=24, temperature=0.0)
    conversation = [[{"role": "user", "content": "Write one question about the sentence: We set k to 60."}]]
    free = teacher.generate(conversation, ReplyShape(prefill='{"question": "'))[0].text
    words = free.removeprefix('{"question": "').split()
    phrase = " " + " ".join(words[1:3])  # two words the model writes when nothing is banned
    avoided = teacher.generate(conversation, ReplyShape(prefill='{"question": "', avoid=(phrase,)))[0].text
    assert phrase in free and phrase not in avoided, (free, avoided)


def test_quoted_terms_stay_in_the_question():
    """Small models do not escape quotes inside the JSON string: the question runs to the quote
    that closes the object, and a reply cut at an inner quote still parses."""
    closed = parse_question_only('{"question": "What is the meaning of "RRF" in hybrid search?"}', "k = 60")
    assert closed[0]["question"] == 'What is the meaning of "RRF" in hybrid search?'
    cut = parse_question_only('{"question": "What is the meaning of "', "k = 60")
    assert cut[0]["question"] == "What is the meaning of"  # then dropped by the form filter (no "?")


def _section_chunks(n_papers: int) -> pd.DataFrame:
    from spark_arxiv_assets.core.chunking import chunk_id_for, vector_id_for
    from spark_arxiv_assets.core.sample_corpus import load_sample_papers

    rows = []
    for paper in load_sample_papers()[:n_papers]:
        for i, (_, body) in enumerate(paper["sections"]):
            cid = chunk_id_for(paper["id"], body)
            rows.append({"chunk_id": cid, "vector_id": vector_id_for(cid), "paper_id": paper["id"],
                         "title": paper["title"], "page_start": 1, "page_end": 1, "chunk_index": i, "text": body,
                         "n_tokens": len(body.split())})
    return pd.DataFrame(rows)


def _materialize_qa(chunks: pd.DataFrame, base_url: str):
    """Chunks of the sample's month through the index, the teacher (a fake server) and the filters;
    returns the run and the metadata of qa_pairs and qa_dataset together."""
    from dagster import AssetExecutionContext, asset

    from spark_arxiv_assets.assets.index import chunk_index
    from spark_arxiv_assets.assets.partitions import MONTHS, ONE_RUN
    from spark_arxiv_assets.assets.qa import qa_dataset, qa_grounded_and_split_by_paper, qa_pairs
    from spark_arxiv_assets.definitions import build_resources
    from spark_arxiv_assets.io_managers.paper_tables import PaperRows
    from spark_arxiv_assets.resources.teacher import TeacherResource

    @asset(name="paper_chunks", io_manager_key="paper_table_io_manager", partitions_def=MONTHS, backfill_policy=ONE_RUN)
    def given_chunks(context: AssetExecutionContext) -> PaperRows:
        return PaperRows.of(chunks.assign(month=SAMPLE_MONTH), chunks["paper_id"])

    result = run_months([given_chunks, chunk_index, qa_pairs, qa_dataset, qa_grounded_and_split_by_paper], SAMPLE_MONTH,
                        resources={  # Spark is never started
        **build_resources(),
        "teacher": TeacherResource(backend="openai", base_url=base_url, model="mistral-7b-instruct", max_retries=1)})
    assert result.success
    meta = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() in ("qa_pairs", "qa_dataset"):
            meta.update({k: v.value for k, v in event.materialization.metadata.items()})
    return result, meta


def test_qa_asset_writes_split_datasets_and_only_generates_for_new_chunks(data_dir):
    from datasets import load_dataset

    chunks = _section_chunks(3)
    first = chunks[chunks["paper_id"] == chunks["paper_id"].iloc[0]].head(2)  # a scan of a paper's first pages
    scan = first.assign(paper_id="scanned-" + first["paper_id"], text=first["text"].map(_ocr_copy),
                        chunk_id=lambda f: f["chunk_id"] + "-scan", vector_id=lambda f: f["vector_id"] + 10**6)
    with FakeOpenAI(["ok"]) as server:
        result, meta = _materialize_qa(pd.concat([chunks, scan], ignore_index=True), server.base_url)
        first_requests = len(server.requests)
        frame = result.output_for_node("qa_dataset")
        assert meta["requests_generated_now"] == first_requests > 0 and meta["pairs_kept"] == len(frame) > 0
        assert meta["reply_shape"]["max_tokens"] == QUESTION_REPLY.max_tokens  # shown in the UI
        assert "source_not_retrieved" in meta["removed_by_filter"]  # the round trip ran against the real index
        rejected = pd.read_parquet(data_dir / "qa" / "rejected.parquet")
        assert len(rejected) == sum(meta["removed_by_filter"].values()) and set(rejected["filter"]) <= set(meta["removed_by_filter"])
        assert frame["source_rank"].between(1, 10).all()
        assert set(frame["split"]) == {"train", "eval"}
        assert not set(frame.loc[frame.split == "train", "paper_id"]) & set(frame.loc[frame.split == "eval", "paper_id"])
        original = first["paper_id"].iloc[0]
        assert meta["paper_families"] == {original: [original, "scanned-" + original]}
        assert (frame.loc[frame["paper_id"] == original, "paper_family"] == original).all()
        train = load_dataset("json", data_files=str(data_dir / "qa" / "train.jsonl"), split="train")
        assert train[0]["messages"][-1]["role"] == "assistant" and train[0]["messages"][0]["content"].startswith(CONTEXT)
        seed = json.loads((data_dir / "synthetic_arxiv_qa_dataset.json").read_text())
        assert {"question", "answer", "context", "paper_id", "chunk_id"} <= set(seed[0])

        one_more_paper = pd.concat([_section_chunks(4), scan], ignore_index=True)
        _, meta = _materialize_qa(one_more_paper, server.base_url)
        new_requests = len(server.requests) - first_requests
        assert meta["requests_generated_now"] == new_requests > 0
        assert meta["requests"] == new_requests + first_requests
    assert [c for c in result.get_asset_check_evaluations() if not c.passed] == []


def test_unparseable_teacher_output_is_counted_not_fatal(data_dir):
    with FakeOpenAI(["malformed"]) as server:
        result, meta = _materialize_qa(_section_chunks(1), server.base_url)
    assert meta["pairs_kept"] == 0 and meta["unparseable_replies"] == meta["requests"] > 0


def test_near_duplicates_are_greedy_in_row_order():
    from spark_arxiv_assets.core.qa_filters import near_duplicate_mask

    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    close_to_a = np.array([0.999, 0.045]) / np.linalg.norm([0.999, 0.045])
    vectors = np.stack([a, close_to_a, b, a])
    assert near_duplicate_mask(vectors, 0.92).tolist() == [True, False, True, False]


def test_reply_cache_appends_parts_and_compacts(tmp_path):
    from spark_arxiv_assets.core import qa_cache
    from spark_arxiv_assets.core.qa_cache import ReplyCache

    cache = ReplyCache(tmp_path / "cache")
    for i in range(qa_cache.COMPACT_ABOVE + 1):
        cache.add([{"cache_key": f"k{i}", "chunk_id": "c", "prompt_version": "v", "teacher": "t", "raw_text": f"r{i}",
                    "error": None, "completion_tokens": 1}])
    cache.add([{"cache_key": "k0", "chunk_id": "c", "prompt_version": "v", "teacher": "t", "raw_text": "newer",
                "error": None, "completion_tokens": 1}])
    reopened = ReplyCache(tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("part-*.parquet"))) == 1  # compacted on open
    assert reopened.keys() == {f"k{i}" for i in range(qa_cache.COMPACT_ABOVE + 1)}
    assert reopened.lookup(["k0"])["raw_text"].tolist() == ["newer"]


def test_openai_teacher_cache_identity_changes_with_every_request_setting():
    def identity(**changes):
        settings = dict(base_url="http://127.0.0.1:8000/v1", model="m", api_key=None, max_concurrency=1, timeout_s=5,
                        max_retries=0, temperature=0.0, max_tokens=64, json_mode=False)
        return OpenAICompatibleTeacher(**{**settings, **changes}).identity

    variants = [identity(), identity(temperature=0.7), identity(max_tokens=128), identity(json_mode=True),
                identity(model="other")]
    assert len(set(variants)) == len(variants)
    assert identity(timeout_s=60, max_concurrency=8) == identity()  # transport settings do not change replies


def _ocr_copy(text: str) -> str:
    """What a scan of the same page reads like: line-break hyphens, one word in twenty misread."""
    words = text.split()
    return " ".join(w[:2] + "- " + w[2:] if i % 15 == 3 and len(w) > 5 else w + "l" if i % 20 == 5 else w
                    for i, w in enumerate(words))


def test_a_scanned_copy_or_new_version_is_one_family_and_unrelated_papers_are_not():
    from spark_arxiv_assets.core.paper_families import families_with_several, paper_families
    from spark_arxiv_assets.core.sample_corpus import load_sample_papers

    papers = load_sample_papers()[:4]
    ids, texts = [], []
    for paper in papers:
        for _, body in paper["sections"]:
            ids.append(paper["id"]), texts.append(body)
    first = papers[0]
    scan_pages = [body for _, body in first["sections"][:2]]  # a scan of the first pages only
    ids += ["scanned-" + first["id"]] * 2
    texts += [_ocr_copy(body) for body in scan_pages]
    boilerplate = "This work is licensed under a Creative Commons Attribution 4.0 International License."
    ids += [f"other-{i}" for i in range(12)]  # share one sentence and nothing else
    texts += [f"{boilerplate} Paper number {i} studies topic {i * 7} with method {i * 13}." for i in range(12)]

    families = paper_families(ids, texts)
    assert families_with_several(families) == {first["id"]: sorted([first["id"], "scanned-" + first["id"]])}
    assert all(families[p["id"]] == p["id"] for p in papers[1:])


def test_the_split_check_fails_when_a_family_is_on_both_sides():
    from spark_arxiv_assets.assets.qa import qa_grounded_and_split_by_paper

    rows = pd.DataFrame({"paper_id": ["a", "scanned-a", "b"], "paper_family": ["a", "a", "b"],
                         "split": ["eval", "train", "train"], "grounding": [1.0, 1.0, 1.0]})
    result = qa_grounded_and_split_by_paper(rows)
    assert not result.passed and result.metadata["families_in_both_splits"].data == ["a"]
    assert qa_grounded_and_split_by_paper(rows.assign(split=["eval", "eval", "train"])).passed
