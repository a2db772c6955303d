"""How hybrid retrieval merges the dense and BM25 lists, and how relevance is judged."""
import pytest

from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
from spark_arxiv_assets.core.retrieval import Hit, Retriever, convex_fusion
from spark_arxiv_assets.core.retrieval_eval import LabelledQuestion, first_relevant_rank, is_relevant, summarize_ranks

from .test_index import PAPERS, chunks_for


def test_convex_fusion_weights_move_between_the_two_rankings():
    dense = [(1, 0.9), (2, 0.5), (3, 0.1)]
    lexical = [(3, 12.0), (2, 6.0)]
    assert [item for item, _ in convex_fusion(dense, lexical, dense_weight=1.0)] == [1, 2, 3]
    assert [item for item, _ in convex_fusion(dense, lexical, dense_weight=0.0)][:2] == [3, 2]
    fused = dict(convex_fusion(dense, lexical, dense_weight=0.5))
    # item 2 is found by both lists and beats item 1, which only dense found
    assert fused[2] == pytest.approx(0.5 * (0.5 + 1) / (0.9 + 1) + 0.5 * 6 / 12)
    assert fused[2] > fused[1]


def test_convex_fusion_does_not_stretch_a_flat_dense_list():
    """Dense scores 0.30 vs 0.29 are nearly a tie; min-max scaling would turn them into 1 vs 0
    and let that tie outvote a clear BM25 preference."""
    dense = [(1, 0.30), (2, 0.29)]
    lexical = [(2, 10.0), (1, 2.0)]
    assert convex_fusion(dense, lexical, dense_weight=0.5)[0][0] == 2


def test_convex_fusion_with_one_list_empty_keeps_the_other_order():
    assert [i for i, _ in convex_fusion([], [(7, 3.0), (8, 1.0)])] == [7, 8]
    assert [i for i, _ in convex_fusion([(7, 0.2), (8, 0.6)], [])] == [8, 7]
    assert convex_fusion([], []) == []


def test_retriever_rejects_unknown_fusion_settings(encoder):
    index, _ = update_chunk_index(None, chunks_for("2401.00001"), encoder, IndexOptions(), "m")
    with pytest.raises(ValueError, match="fusion"):
        Retriever(index, encoder, fusion="mean")
    with pytest.raises(ValueError, match="dense_weight"):
        Retriever(index, encoder, dense_weight=1.5)


@pytest.mark.parametrize("fusion", ["convex", "rrf"])
def test_hybrid_finds_a_chunk_from_its_own_words_with_either_fusion(encoder, fusion):
    index, _ = update_chunk_index(None, chunks_for(*PAPERS), encoder, IndexOptions(), "m")
    retriever = Retriever(index, encoder, fusion=fusion)
    for paper, texts in PAPERS.items():
        for text in texts:
            hits = retriever.search(text, k=3, mode="hybrid")
            assert hits[0].text == text and hits[0].paper_id == paper
            assert hits[0].dense_rank == 1 and hits[0].bm25_rank == 1
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_source_ranks_find_each_question_s_own_chunk_in_one_batch(encoder):
    index, _ = update_chunk_index(None, chunks_for(*PAPERS), encoder, IndexOptions(), "m")
    retriever = Retriever(index, encoder)
    own = index.chunks.set_index("text")["chunk_id"]
    questions = ["Which 4-bit data type stores the frozen base model in QLoRA?",
                 "Which 4-bit data type stores the frozen base model in QLoRA?",
                 "What does optical character recognition recover?"]
    chunk_ids = [own[PAPERS["2401.00002"][0]], own[PAPERS["2401.00003"][1]], own[PAPERS["2401.00003"][0]]]
    encoder.seen.clear()
    assert retriever.source_ranks(questions, chunk_ids, k=1) == [1, None, 1]
    assert encoder.seen == questions  # embedded once, together
    vectors = encoder(questions)
    encoder.seen.clear()
    assert retriever.source_ranks(questions, chunk_ids, k=1, query_vectors=vectors) == [1, None, 1]
    assert encoder.seen == []  # given vectors are not embedded again
    singles = [retriever.search(q, k=3) for q in questions]
    assert [[h.chunk_id for h in hits] for hits in retriever.search_many(questions, k=3)] == \
        [[h.chunk_id for h in hits] for hits in singles]


def _hit(paper_id, start, end, text="x"):
    return Hit(vector_id=1, chunk_id="c", paper_id=paper_id, title="t", page_start=start, page_end=end,
               text=text, score=1.0)


def test_a_question_answered_on_several_pages_accepts_any_of_them():
    question = LabelledQuestion("q", "2501.10120", [2, 9])  # a JSON list becomes a tuple
    assert question.pages == (2, 9)
    assert is_relevant(_hit("2501.10120", 9, 10), question)
    assert is_relevant(_hit("2501.10120", 1, 2), question)
    assert not is_relevant(_hit("2501.10120", 3, 8), question)
    assert not is_relevant(_hit("2206.10883", 2, 2), question)
    assert is_relevant(_hit("2501.10120", 14, 14), LabelledQuestion("q", "2501.10120"))  # no pages: any chunk
    hits = [_hit("2206.10883", 2, 2), _hit("2501.10120", 5, 5), _hit("2501.10120", 9, 9)]
    assert first_relevant_rank(hits, question) == 3


def test_a_table_question_needs_the_passage_that_holds_the_cell_not_just_its_page():
    question = LabelledQuestion("How many samples does XSUM have?", "2206.10883", [6], answer="226,677")
    assert is_relevant(_hit("2206.10883", 6, 6, "Tiny XSUM\n226,677 1 454.5"), question)
    assert is_relevant(_hit("2206.10883", 5, 6, "XSUM  226,677"), question)  # whitespace and case do not matter
    assert not is_relevant(_hit("2206.10883", 6, 6, "Table 2: Comparison of Multi-LexSum"), question)
    assert not is_relevant(_hit("2206.10883", 7, 7, "226,677"), question)  # the page still has to match


def test_rank_summary_counts_misses_as_zero():
    row = summarize_ranks([1, 3, None, 10])
    assert row["questions"] == 4
    assert (row["hit@1"], row["hit@5"], row["hit@10"]) == (0.25, 0.5, 0.75)
    assert row["mrr"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 10) / 4)


def test_assets_refuse_an_index_built_with_another_embedding_model(encoder):
    from spark_arxiv_assets.resources.models import EmbeddingModel

    embedder = EmbeddingModel()
    other, _ = update_chunk_index(None, chunks_for("2401.00001"), encoder, IndexOptions(), "some/other-model")
    with pytest.raises(ValueError, match="re-materialize chunk_index"):
        embedder.retriever(other)
    same, _ = update_chunk_index(None, chunks_for("2401.00001"), encoder, IndexOptions(), embedder.model)
    hits = embedder.retriever(same, fusion="rrf").search(PAPERS["2401.00001"][1], k=1)
    assert hits[0].text == PAPERS["2401.00001"][1]


def test_a_bm25_candidate_beyond_the_dense_list_is_fused_with_its_exact_cosine(encoder):
    """With one dense and one BM25 candidate, the two lists disagree: "quantisation" draws the dense
    search to QLoRA, "native resolution" draws BM25 to the rendering chunk. The rendering chunk's
    dense share is its own cosine, not the floor of −1 a chunk outside the dense list got before."""
    index, _ = update_chunk_index(None, chunks_for(*PAPERS), encoder, IndexOptions(), "m")
    retriever = Retriever(index, encoder, candidates=1)
    query = "native resolution of quantisation"
    [dense], [lexical] = retriever.search(query, k=1, mode="dense"), retriever.search(query, k=1, mode="bm25")
    assert dense.text.startswith("QLoRA") and lexical.text.startswith("Rendering")
    [hybrid] = retriever.search(query, k=1, mode="hybrid")
    every = Retriever(index, encoder).search(query, k=index.size, mode="dense")  # the whole dense ranking
    cosine = next(hit.score for hit in every if hit.text == lexical.text)
    assert hybrid.text == lexical.text and hybrid.dense_rank is None
    assert hybrid.score == pytest.approx(0.5 * (cosine + 1) / (dense.score + 1) + 0.5, abs=1e-4)
