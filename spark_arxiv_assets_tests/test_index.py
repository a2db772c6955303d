"""FAISS + BM25 index: incremental add/delete without re-embedding, kind switching, retrieval."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from spark_arxiv_assets.core.chunk_index import ChunkIndex, IndexOptions, update_chunk_index
from spark_arxiv_assets.core.chunking import chunk_id_for, contextual_text, vector_id_for
from spark_arxiv_assets.core.retrieval import Retriever, reciprocal_rank_fusion

PAPERS = {
    "2401.00001": ["Reciprocal rank fusion sums one over k plus rank across ranked lists.",
                   "BM25 uses term frequency saturation k1 and length normalisation b."],
    "2401.00002": ["QLoRA stores the frozen base model in 4-bit NormalFloat with double quantisation.",
                   "LoRA adapters learn low-rank updates for attention projections."],
    "2401.00003": ["Optical character recognition recovers text from scanned page images.",
                   "Rendering at the native resolution of the scan avoids glued words."],
}


def chunks_for(*paper_ids):
    rows = []
    for paper in paper_ids:
        for i, text in enumerate(PAPERS[paper]):
            cid = chunk_id_for(paper, text)
            rows.append({"chunk_id": cid, "vector_id": vector_id_for(cid), "paper_id": paper, "title": f"T{paper}",
                         "page_start": i + 1, "page_end": i + 1, "text": text})
    return pd.DataFrame(rows)


def test_adding_a_paper_embeds_only_its_chunks_and_deleting_removes_it(encoder, tmp_path):
    index, stats = update_chunk_index(None, chunks_for("2401.00001", "2401.00002"), encoder, IndexOptions(), "m")
    assert stats.added == 4 and index.dense.size == 4
    index.save(tmp_path)  # round trip through disk, as between two runs
    index = ChunkIndex.load(tmp_path)
    encoder.seen.clear()
    index, stats = update_chunk_index(index, chunks_for("2401.00001", "2401.00002", "2401.00003"), encoder,
                                      IndexOptions(), "m")
    # the other papers were not re-embedded; each passage is embedded under its paper's title
    assert encoder.seen == [contextual_text("T2401.00003", "", text) for text in PAPERS["2401.00003"]]
    assert (stats.added, stats.kept, stats.rebuilt_dense) == (2, 4, False)

    encoder.seen.clear()
    index, stats = update_chunk_index(index, chunks_for("2401.00002", "2401.00003"), encoder, IndexOptions(), "m")
    assert encoder.seen == [] and stats.removed == 2 and index.dense.size == 4 == index.size
    retriever = Retriever(index, encoder)
    for mode in ("dense", "bm25", "hybrid"):
        hits = retriever.search("reciprocal rank fusion BM25", k=4, mode=mode)
        assert all(h.paper_id != "2401.00001" for h in hits)
    assert retriever.search("4-bit NormalFloat quantisation", k=1)[0].paper_id == "2401.00002"


def test_changing_the_embedding_model_or_embedded_text_re_embeds_everything(encoder):
    index, _ = update_chunk_index(None, chunks_for("2401.00001"), encoder, IndexOptions(), "model-a")
    encoder.seen.clear()
    index, stats = update_chunk_index(index, chunks_for("2401.00001"), encoder, IndexOptions(), "model-b")
    assert stats.added == 2 and len(encoder.seen) == 2
    # vectors made from an older form of the embedded text are re-made too
    index.manifest["embedded_text"] = "an older version"
    encoder.seen.clear()
    _, stats = update_chunk_index(index, chunks_for("2401.00001"), encoder, IndexOptions(), "model-b")
    assert stats.added == 2 and len(encoder.seen) == 2 and stats.rebuild_reason.startswith("embedding model or")


def hashed_vectors(texts, dim=32):
    """Deterministic unit vectors for index-mechanics tests (not a model)."""
    out = np.stack([np.random.default_rng(int(hashlib.md5(t.encode()).hexdigest()[:8], 16)).normal(size=dim)
                    for t in texts]).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def synthetic_chunks(n, start=0):
    rows = []
    for i in range(start, start + n):
        text = f"synthetic chunk number {i}"
        cid = chunk_id_for("p", text)
        rows.append({"chunk_id": cid, "vector_id": vector_id_for(cid), "paper_id": f"p{i % 7}", "title": "t",
                     "page_start": 1, "page_end": 1, "text": text})
    return pd.DataFrame(rows)


def test_auto_kind_switches_to_ivf_above_threshold_and_stays_incremental():
    options = IndexOptions(kind="auto", ivf_threshold=800, nprobe=64)
    small, _ = update_chunk_index(None, synthetic_chunks(500), hashed_vectors, options, "h")
    assert small.dense.kind == "flat"
    big, stats = update_chunk_index(small, synthetic_chunks(1000), hashed_vectors, options, "h")
    assert big.dense.kind == "ivf" and stats.rebuilt_dense and stats.added == 500 and big.dense.size == 1000
    smaller, stats = update_chunk_index(big, synthetic_chunks(900, start=100), hashed_vectors, options, "h")
    assert smaller.dense.kind == "ivf" and not stats.rebuilt_dense and smaller.dense.size == 900
    scores, ids = smaller.dense.search(smaller.vectors[:5], 1)
    assert ids[:, 0].tolist() == smaller.chunks["vector_id"].iloc[:5].tolist()


def test_ivf_lists_are_retrained_when_the_corpus_outgrows_them():
    options = IndexOptions(kind="ivf", nprobe=64, retrain_growth=4.0)
    first, stats = update_chunk_index(None, synthetic_chunks(1000), hashed_vectors, options, "h")
    assert first.manifest["trained_on"] == 1000 and first.dense.index.nlist == 25  # 1000 // 39 points per list
    grown, stats = update_chunk_index(first, synthetic_chunks(3900), hashed_vectors, options, "h")
    assert not stats.rebuilt_dense and grown.manifest["trained_on"] == 1000 and grown.dense.index.nlist == 25
    retrained, stats = update_chunk_index(grown, synthetic_chunks(4000), hashed_vectors, options, "h")
    assert stats.rebuilt_dense and "retrained" in stats.rebuild_reason and stats.added == 100
    assert retrained.manifest["trained_on"] == 4000 and retrained.dense.index.nlist == 102
    shrunk, stats = update_chunk_index(retrained, synthetic_chunks(1000), hashed_vectors, options, "h")
    assert stats.rebuilt_dense and shrunk.manifest["trained_on"] == 1000 and stats.added == 0
    scores, ids = shrunk.dense.search(shrunk.vectors[:5], 1)
    assert ids[:, 0].tolist() == shrunk.chunks["vector_id"].iloc[:5].tolist()
    with pytest.raises(ValueError, match="retrain_growth"):
        IndexOptions(retrain_growth=1.0)


def test_reciprocal_rank_fusion_rewards_agreement():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]])
    assert [item for item, _ in fused][:2] == [1, 3]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_empty_corpus_gives_an_empty_index(encoder):
    empty = chunks_for()
    index, stats = update_chunk_index(None, empty.reindex(columns=chunks_for("2401.00001").columns), encoder,
                                      IndexOptions(), "m")
    assert index.size == 0 and Retriever(index, encoder).search("anything") == []


def test_bm25_matches_word_forms_through_stemming():
    """Without the stemmer (a fresh install once lacked PyStemmer) 'fusing rankings' shares no
    term with 'fused ranking' and BM25 finds nothing."""
    from spark_arxiv_assets.core.lexical_index import LexicalIndex

    lexical = LexicalIndex.build(["The fused ranking beats each retriever.", "OCR reads scanned pages."],
                                 np.array([11, 22]))
    assert [vid for vid, _ in lexical.search("fusing rankings", 2)] == [11]
