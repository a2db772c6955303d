import pytest

from spark_arxiv_assets.core.chunking import (ChunkingOptions, chunk_id_for, chunk_units, clean_and_chunk_paper,
                                              contextual_text, make_splitter, vector_id_for)
from spark_arxiv_assets.core.cleaning import clean_pages, normalise_text
from spark_arxiv_assets.core.embedding_model import load_sentence_transformer


def test_dehyphenation_ligatures_and_whitespace():
    assert normalise_text("an exam-\nple of ﬁne   text\n\n here") == "an example of fine text here"
    assert normalise_text("state-of-the-\nart") == "state-of-the-art"  # a compound keeps its hyphen
    assert normalise_text("a self-\nsupervised and self-supervised") == "a self-supervised and self-supervised"
    assert normalise_text("soft\u00ad\nhyphen") == "softhyphen"
    assert normalise_text("well-\nKnown") == "well- Known"  # capitalised: a real hyphen, keep


def test_numbered_headings_do_not_run_into_the_next_sentence():
    assert normalise_text("2 Setup\nWe fine-tune a model.") == "2 Setup. We fine-tune a model."
    assert normalise_text("3.1 Data Collection\nWe built it.") == "3.1 Data Collection. We built it."
    assert normalise_text("We used 2 GPUs\nfor training.") == "We used 2 GPUs for training."


def test_running_headers_footers_and_page_numbers_removed():
    bodies = ["Alpha opens the paper.\nIt has results.", "Beta follows.\nMore evidence.",
              "Gamma discusses.\nLimits too.", "Delta concludes.\nThe end."]
    pages = [f"Journal of Tests, Vol 3\n{body}\n{i}" for i, body in enumerate(bodies, start=1)]
    cleaned, stats = clean_pages(pages)
    assert cleaned == [normalise_text(body) for body in bodies]
    assert stats.header_footer_lines_removed == 8


def test_reference_list_dropped_but_appendix_kept():
    pages = ["Intro text. Results text.\nReferences\n[1] A. Author. A paper. In Proc. of X, 2020.",
             "[2] B. Author. Another. arXiv:2001.00001, 2020.\n[3] C. Author et al. 2019.",
             "Appendix A\nDetails of the training setup are given here at length."]
    cleaned, stats = clean_pages(pages)
    assert "A. Author" not in cleaned[0] and cleaned[1] == ""
    assert "Details of the training setup" in cleaned[2]
    assert stats.reference_chars_dropped > 0
    kept, _ = clean_pages(pages, drop_references=False)
    assert "A. Author" in kept[0]


@pytest.fixture(scope="module")
def tokenizer():
    return load_sentence_transformer("all-MiniLM-L6-v2", "cpu").tokenizer


def test_chunks_have_page_spans_stable_ids_and_fit_the_model(tokenizer):
    options = ChunkingOptions(chunk_tokens=60, overlap_tokens=10)
    page1 = " ".join(f"Sentence {i} on the first page talks about retrieval." for i in range(12))
    page2 = " ".join(f"Sentence {i} on the second page talks about adapters." for i in range(12))
    rows, _ = clean_and_chunk_paper("2401.00001", "T", [(1, page1, None), (2, page2, None)],
                                    make_splitter(tokenizer, options), tokenizer, options)
    assert len(rows) >= 4
    assert rows[0]["page_start"] == 1 and rows[-1]["page_end"] == 2
    assert any(r["page_start"] == 1 and r["page_end"] == 2 for r in rows)  # one chunk runs across the page break
    assert all(len(tokenizer.encode(r["text"], add_special_tokens=False)) <= 60 for r in rows)
    assert all(r["n_tokens"] <= 60 + 40 for r in rows)  # plus the "title › section" header that is embedded
    assert all(("first page" in r["text"]) == (r["page_start"] == 1) for r in rows)
    again, _ = clean_and_chunk_paper("2401.00001", "T", [(1, page1, None), (2, page2, None)],
                                     make_splitter(tokenizer, options), tokenizer, options)
    assert [r["chunk_id"] for r in rows] == [r["chunk_id"] for r in again]
    assert rows[0]["vector_id"] == vector_id_for(chunk_id_for("2401.00001", contextual_text("T", "", rows[0]["text"]))) > 0


def test_a_table_with_a_long_caption_is_split_until_the_embedder_reads_all_of_it(encoder):
    """A table whose long row is split, each part under a long caption and its column names, made
    chunks of 277 to 279 tokens for a 256-token embedder (seen on real papers): their tails were
    never embedded. Now every chunk fits, and every word of the row is in some chunk."""
    from spark_arxiv_assets.core.sections import Unit

    tokenizer = encoder.model.tokenizer
    options = ChunkingOptions()
    caption = "Table 2: " + " ".join(f"the annotators judged relevance of the cited passage type {i}" for i in range(12))
    long_row = "| Long category | " + " ".join(f"explanation word{i} about the guideline" for i in range(80)) + " | 12 |"
    unit = Unit("table", "Annotation guidelines", [(3, long_row + "\n| Short | a short one | 3 |")],
                header="| Category | Description | Count |\n|---|---|---|", caption=caption)
    rows = chunk_units("2501.0001", "A paper about annotation", [unit], make_splitter(tokenizer, options), tokenizer,
                       options)
    assert rows and max(r["n_tokens"] for r in rows) <= 254  # 256 with [CLS] and [SEP]
    assert all(r["text"].startswith("Table 2: the annotators") and "| Category | Description | Count |" in r["text"]
               for r in rows)  # every part keeps its caption's start and the column names
    text = " ".join(r["text"] for r in rows)
    assert all(f"word{i} " in text for i in range(80))
