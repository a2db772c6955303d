"""Structure-aware extraction on the real papers of ../shared/corpora: tables as Markdown of the
right shape, two-column reading order, figures cropped with their captions, reference lists
found, and a section path on every chunk of a paper with headings."""
import functools
from collections import Counter

import pandas as pd
import pymupdf
import pytest

from spark_arxiv_assets.core.chunk_index import EMBEDDED_TEXT_VERSION, IndexOptions, update_chunk_index
from spark_arxiv_assets.core.chunking import (ChunkingOptions, chunk_units, clean_and_chunk_paper, contextual_text,
                                              make_splitter, vector_id_for)
from spark_arxiv_assets.core.embedding_model import load_sentence_transformer
from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf
from spark_arxiv_assets.core.rag_prompt import linearize_tables
from spark_arxiv_assets.core.retrieval import Retriever
from spark_arxiv_assets.core.sections import FRONT_MATTER, Unit, file_floats_where_mentioned
from spark_arxiv_assets.core.table_grid import merge_header_rows, merge_wrapped_rows, spread_centred_labels
from spark_arxiv_assets.core.table_text import table_outline

FULL_ARXIV_PAPERS = ["2501.10120v1", "2206.10883v3", "2302.07302v1"]  # the corpus' other arXiv files are one page


@pytest.fixture(scope="module")
def tokenizer():
    return load_sentence_transformer("all-MiniLM-L6-v2", "cpu").tokenizer


@functools.lru_cache(maxsize=None)
def _extracted(path: str):
    result = extract_pdf(path, ExtractionOptions(ocr_engine="none"), None)
    assert result.problem is None, result.problem
    return result


def extracted(corpora, name: str):
    return _extracted(str(corpora / "pdfs" / f"{name}.pdf"))


def chunked(corpora, name: str, tokenizer, drop_references: bool = True):
    options = ChunkingOptions()
    pages = [(p.page, p.text, p.blocks) for p in extracted(corpora, name).pages]
    return clean_and_chunk_paper(name, name, pages, make_splitter(tokenizer, options), tokenizer, options,
                                 drop_references)


def markdown_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|") and not set(line) <= set("|-: ")]


def test_table_page_gives_table_chunks_of_the_right_shape(corpora, tokenizer):
    """1903.10676's Table 1 has 2 header rows (model over Frozen/Finetune), merged into one, and 13
    result rows in 8 columns (the GENIA LAS/UAS and Paper Field/SciCite rows share one ruled cell and
    are split back); Table 2 is 5 × 4."""
    rows, stats = chunked(corpora, "1903.10676-p-table", tokenizer)
    assert stats.tables == 2
    table1 = [r for r in rows if r["chunk_type"] == "table" and r["text"].startswith("Table 1:")]
    body = [row for chunk in table1 for row in markdown_rows(chunk["text"])[1:]]  # each chunk repeats the header
    assert all(markdown_rows(c["text"])[0] == ["Field", "Task", "Dataset", "SOTA", "BERT-Base Frozen",
                                               "BERT-Base Finetune", "SCIBERT Frozen", "SCIBERT Finetune"]
               for c in table1)
    assert len(body) == 13 and {len(row) for row in body} == {8}, body
    assert ["", "", "GENIA (Kim et al., 2003) - UAS", "92.84", "91.84", "91.89", "92.00", "91.99"] in body
    table2 = [r for r in rows if r["chunk_type"] == "table" and r["text"].startswith("Table 2:")]
    assert len(table2) == 1 and [len(row) for row in markdown_rows(table2[0]["text"])] == [4] * 5
    assert all(r["n_tokens"] <= 256 for r in rows)


def page_tables(corpora, name: str, page: int) -> list[list[list[str]]]:
    return [markdown_rows(block["text"]) for block in extracted(corpora, name).pages[page - 1].blocks
            if block["kind"] == "table"]


def test_sub_columns_under_one_rule_and_two_row_headers_are_split_back(corpora):
    """The finder returns Multi-LexSum's Table 3 as 4 columns, five numbers to a cell under "D → L",
    and its Table 2 with group labels ("Source") in a row of their own above the column names."""
    [table3] = page_tables(corpora, "2206.10883v3", 7)
    assert table3[0][:3] == ["Models", "D →L R-1f1", "D →L R-2f1"] and len(table3[0]) == 16
    assert ["PRIMERA", "53.73", "27.32", "30.89", "42.01", "416.3"] == table3[-1][:6]
    [table2] = page_tables(corpora, "2206.10883v3", 6)
    header = table2[0]
    assert header[:5] == ["Dataset", "Samples", "Docs", "Source Words", "Source Sents"]
    assert header[-1] == "Source →Target Compress"
    tiny = next(row for row in table2 if row[0] == "Multi-LexSum D →T")
    assert tiny[1] == "1,603" and tiny[-1] == "5449.6"
    [doc_types] = page_tables(corpora, "2206.10883v3", 18)  # "Avg. Docs Per Case" is wider than its numbers
    assert doc_types[0] == ["Document Type", "Avg. Docs Per Case", "Description"]
    assert doc_types[3][:2] == ["Opinion/Order", "3.300 (4.78)"]
    [actions] = page_tables(corpora, "2302.07302v1", 12)  # columns without rules, the caption in the cells' block
    assert actions[0] == ["Action", "P1", "P2", "P3", "P4", "P5", "P6", "AVG", "SD"]
    assert actions[1][:2] == ["Paper Opens", "77"]


def test_a_caption_in_the_block_of_its_table_still_captions_it_but_a_wrapped_sentence_is_no_caption(corpora):
    """PyMuPDF puts CiteSee's table captions in the block of the tables' last rows; 2501.10120 wraps
    "… is shown in / Table 10. The session …" inside a paragraph."""
    for page, label in [(11, "Table 1"), (12, "Table 2")]:
        [table] = [b for b in extracted(corpora, "2302.07302v1").pages[page - 1].blocks if b["kind"] == "table"]
        assert table["label"] == label and table["caption"].startswith(f"{label}: ")
    paragraph = [b["text"] for b in extracted(corpora, "2501.10120v1").pages[10].blocks if "is shown in" in b["text"]]
    assert len(paragraph) == 1 and "shown in\nTable 10. The session" in paragraph[0]


def test_text_tables_keep_their_rows_apart_from_the_header(corpora):
    """Multi-LexSum's checklist has a title row over four columns of items and no numbers: the
    first item row is data, not a second header row, and no column is split at a word space."""
    checklist = next(t for t in page_tables(corpora, "2206.10883v3", 3) if len(t[-1]) == 4)
    assert checklist[0] == ["", "Checklist of Facts during Writing", "", ""]  # under an empty header
    assert checklist[1] == ["a. Plaintiff description", "e. Court’s full name", "i. Remedy sought",
                            "m. Date of settlement/decree"]


def test_a_label_centred_beside_its_rows_is_given_to_each_of_them(corpora):
    """Multi-LexSum's Table 6 sets "Always Include" beside the middle of eight rows and "Rarely to
    Never Include" beside six; Table 9's "Hold-out" beside three."""
    [documents] = page_tables(corpora, "2206.10883v3", 17)  # under an empty header
    groups = Counter(row[0] for row in documents)
    assert groups == {"Always Include": 8, "Sometimes Include Based on Writers’ Judgment": 1,
                      "Rarely to Never Include": 6}
    assert documents[0] == ["Always Include", "The ﬁrst complaint"]
    assert documents[-1] == ["Rarely to Never Include", "Other orders"]
    [splits] = [t for t in page_tables(corpora, "2206.10883v3", 21) if t[0][:2] == ["Strategy", "Test Split"]]
    assert [row[0] for row in splits[1:]] == ["Hold-out", "Hold-out", "Hold-out", "K-fold"]


def test_a_label_on_the_first_row_of_its_group_is_left_alone():
    """Below a top-aligned label, empty first cells are as often a wrapped cell as a group member."""
    rows = [["Model", "Data", "F1"], ["A", "x", "1.0"], ["", "y", "2.0"], ["B", "x", "3.0"]]
    assert spread_centred_labels(rows, [0, 10, 20, 30], [0, 10, 20, 30]) == rows
    centred = [["Model", "Data", "F1"], ["", "x", "1.0"], ["A", "y", "2.0"], ["", "z", "3.0"], ["B", "x", "4.0"]]
    assert [r[0] for r in spread_centred_labels(centred, [0, 10, 20, 30, 40], [0, 10, 20, 30, 40])[1:]] == \
        ["A", "A", "A", "B"]


def test_a_cell_wrapped_onto_a_second_line_joins_its_row(corpora):
    """No rule between a cell's two lines makes the finder return two rows; the second is joined
    back where it continues the text above in lower case (CiteSee's Table 1) or sets its value on
    the second line (Multi-LexSum's Table 7). Rows of their own stay rows."""
    [topics] = page_tables(corpora, "2302.07302v1", 11)
    assert [row[0] for row in topics] == ["ID", "P1", "P2", "P3", "P4", "P5", "P6"]
    assert topics[1][1] == "Co-design methodologies and examples. Interaction techniques for accessing video content."
    [types] = page_tables(corpora, "2206.10883v3", 18)
    [affidavit] = [row for row in types if row[0].startswith("Declaration/")]
    assert affidavit[1:] == ["0.065 (0.8)", "Documents in which someone provides information under penalty of perjury."]
    assert any(row[0] == "Statute/ Ordinance/ Regulation" and row[1] == "30.018 (0.56)" for row in types)
    apart = [["Model", "F1"], ["bert", "0.5"], ["roberta", "0.6"], ["", "b. second item"], ["x", "the doc-"],
             ["", "ument"]]
    assert merge_wrapped_rows(apart) == apart[:4] + [["x", "the document"]]


def test_a_frame_around_one_column_of_text_is_read_as_paragraphs(corpora):
    """Multi-LexSum's Table 1 is three summaries in a ruled box: as a "table" its lines were rows
    of one column; they are paragraphs, and the checklist box beside them is still a table."""
    blocks = extracted(corpora, "2206.10883v3").pages[2].blocks
    assert not any("Long Summary L" in b["text"] for b in blocks if b["kind"] == "table")
    assert any(b["text"].startswith("Long Summary L: This case") for b in blocks if b["kind"] == "text")
    assert any("Checklist of Facts" in b["text"] for b in blocks if b["kind"] == "table")


def test_a_float_is_filed_under_the_section_that_mentions_it(corpora, tokenizer):
    """Tables set at the top of a page sit before the heading of the section that discusses them:
    PaSa's ablation table stood under "6 Conclusion", Multi-LexSum's split tables under the
    previous appendix. A float nobody mentions nearby stays where it stands."""
    def sections(name: str) -> dict[str, str]:
        chunks, _ = chunked(corpora, name, tokenizer)
        return {c["text"].split(":")[0]: c["section"] for c in chunks if c["chunk_type"] == "table"}

    assert sections("2501.10120v1")["Table 8"] == "5 Experiments › 5.4 Ablation study"
    assert sections("2206.10883v3")["Table 8"] == "E Multi-LexSum train-test split"
    units = [Unit("text", "1 Intro", [(1, "As Table 2 shows, it works.")]),
             Unit("table", "2 Method", [(2, "| a | 1 |")], caption="Table 2: Results."),
             Unit("table", "2 Method", [(2, "| b | 2 |")], caption="Table 3: More."),
             Unit("text", "4 Results", [(5, "Table 3 shows more.")])]
    file_floats_where_mentioned(units)
    assert [u.section for u in units[1:3]] == ["1 Intro", "2 Method"]  # Table 3's mention is 3 pages on


def test_group_labels_cover_the_columns_they_stand_over():
    rows = [["", "", "Source", "", "Target"], ["Dataset", "Docs", "Words", "Sents", "Words"],
            ["XSUM", "1", "454.5", "31.7", "24.0"], ["SciTLDR", "1", "5847.7", "232.3", "22.2"]]
    assert merge_header_rows(rows)[0] == ["Dataset", "Docs", "Source Words", "Source Sents", "Target Words"]
    repeated = [["", "Dev", "Dev", "Test"], ["Model", "P", "R", "F1"], ["A", "1.0", "2.0", "3.0"]]
    assert merge_header_rows(repeated)[0] == ["Model", "Dev P", "Dev R", "Test F1"]
    plain = [["Model", "Notes", "Year"], ["BERT", "encoder only", "2018"], ["GPT", "decoder", "2018"]]
    assert merge_header_rows(plain) == plain  # a different label over every column: one header row
    text = [["", "Items", ""], ["a. Judge", "b. Court", "c. Date"], ["d. Remedy", "e. Class", "f. Decree"]]
    assert merge_header_rows(text) == text  # no numbers below: its second row is data


def test_long_table_is_split_between_rows_with_its_header_repeated(tokenizer):
    options = ChunkingOptions(chunk_tokens=80)
    lines = [f"| model {i} | {i * 0.01:.2f} | {i * 3} |" for i in range(40)]
    unit = Unit("table", "5 Results", [(4, "\n".join(lines))], header="| Model | F1 | Steps |\n|---|---|---|",
                caption="Table 3: A long table.")
    chunks = chunk_units("p", "T", [unit], make_splitter(tokenizer, options), tokenizer, options)
    assert len(chunks) > 3
    seen = []
    for chunk in chunks:
        text_lines = chunk["text"].splitlines()
        assert text_lines[:3] == ["Table 3: A long table.", "| Model | F1 | Steps |", "|---|---|---|"]
        assert all(line in lines for line in text_lines[3:])  # whole rows only
        seen += text_lines[3:]
        assert len(tokenizer.encode(chunk["text"], add_special_tokens=False)) <= 80
    assert seen == lines and {c["section"] for c in chunks} == {"5 Results"}


def test_two_column_pages_keep_reading_order(corpora):
    """Left column before right column, across a full-width figure at the top of the page."""
    page2 = extracted(corpora, "2501.10120v1").pages[1].text
    assert page2.index("Figure 1: Architecture of PaSa") < page2.index("In this paper, we introduce PaSa")
    assert page2.index("introduce PaSa") < page2.index("Effective training requires") < \
        page2.index("Although AutoScholarQuery only provides")
    page3 = extracted(corpora, "2302.07302v1").pages[2].text
    assert page3.index("2 RELATED WORK") < page3.index("2.1 Scientific Paper Reading Interfaces")
    # sorting blocks top to bottom alone would put the right column's first line (y = 87) first
    assert page3.index("This paper contributes") < page3.index("papers to help users to better prioritize")


def test_figure_captions_are_linked_to_their_cropped_figures(corpora):
    expected = {"2501.10120v1": {"Figure 1", "Figure 2", "Figure 3"},
                "2302.07302v1": {f"Figure {n}" for n in range(1, 9)},
                "biorxiv-2022.03.19.484946": {f"Figure {n}" for n in range(1, 5)}}
    for name, labels in expected.items():
        figures = [(page, block) for page in extracted(corpora, name).pages for block in page.blocks
                   if block["kind"] == "figure"]
        assert {block["label"] for _, block in figures} == labels, name
        for page, block in figures:
            assert block["caption"].lower().startswith(("figure", "fig")) and block["image"] >= 0, (name, block)
            image = pymupdf.Pixmap(page.figures[block["image"]])
            assert image.width >= 100 and image.height >= 50, (name, block["label"])
            x0, y0, x1, y1 = block["bbox"]  # the figure's region (a graphic), not the caption's line
            assert x1 - x0 >= 24 and y1 - y0 >= 24


def test_reference_lists_are_found_in_every_arxiv_paper(corpora, tokenizer):
    for name in FULL_ARXIV_PAPERS:
        rows, stats = chunked(corpora, name, tokenizer)
        assert stats.reference_entries >= 20 and stats.reference_chars_dropped > 3000, (name, stats)
        assert not any("References" in r["section"] or "REFERENCES" in r["section"] for r in rows), name
        kept, _ = chunked(corpora, name, tokenizer, drop_references=False)
        assert any(r["section"].lower().startswith("references") for r in kept), name
    for excerpt in ["1903.10676-p-table", "2305.03393v1-p9"]:  # one page each, without a reference list
        assert chunked(corpora, excerpt, tokenizer)[1].reference_entries == 0


def test_every_chunk_has_a_section_path_when_the_paper_has_headings(corpora, tokenizer):
    for name in FULL_ARXIV_PAPERS + ["biorxiv-2022.03.19.484946", "2305.03393v1-p9"]:
        rows, stats = chunked(corpora, name, tokenizer)
        assert stats.headings >= 2, name
        assert all(r["section"] for r in rows), name
        assert all(r["page_start"] == 1 for r in rows if r["section"] == FRONT_MATTER), name
    rows, _ = chunked(corpora, "2501.10120v1", tokenizer)
    hyperparameters = next(r for r in rows if r["chunk_type"] == "table" and "1e-6" in r["text"])
    assert hyperparameters["section"] == "5 Experiments › 5.1 Experimental Setting"
    assert hyperparameters["text"].startswith("Table 4: The hyperparameters used in PPO training.")


def test_the_model_reads_table_rows_with_their_column_names():
    table = "Table 1: Latency.\n| Retriever | Latency (ms) | MRR |\n|---|---|---|\n| BM25 | 12 | 0.49 |"
    assert linearize_tables(table) == "Table 1: Latency.\nRetriever: BM25; Latency (ms): 12; MRR: 0.49"


def test_the_embedder_sees_a_tables_outline_while_bm25_indexes_its_cells(encoder):
    """MiniLM is given the caption, column names and the cells that hold words; a cell value is
    still found by BM25."""
    table = ("Table 1: Latency per retriever.\n| Retriever | Latency (ms) | MRR | Note |\n|---|---|---|---|\n"
             "| BM25 | 12 | 0.49 | |\n| Dense | 31 | 0.55 (0.02) | needs a GPU |")
    assert table_outline(table) == ("Table 1: Latency per retriever.\nRetriever, Latency (ms), MRR, Note\n"
                                    "BM25; Dense needs a GPU")
    text = "Dense retrieval embeds passages with a sentence encoder."
    chunks = pd.DataFrame([{"chunk_id": c, "vector_id": vector_id_for(c), "paper_id": "p", "title": "RRF",
                            "section": "4 Results", "page_start": 1, "page_end": 1, "text": t, "chunk_type": kind}
                           for c, t, kind in [("a" * 16, table, "table"), ("b" * 16, text, "text")]])
    encoder.seen.clear()
    index, _ = update_chunk_index(None, chunks, encoder, IndexOptions(), "all-MiniLM-L6-v2")
    assert encoder.seen == [contextual_text("RRF", "4 Results", table_outline(table)),
                            contextual_text("RRF", "4 Results", text)]
    assert Retriever(index, encoder).search("latency 31 ms", k=1, mode="bm25")[0].text == table
    assert index.manifest["embedded_text"] == EMBEDDED_TEXT_VERSION


def test_a_figure_with_a_thin_caption_gets_its_text_from_ocr(tmp_path):
    """A raster figure has no text layer; when its caption says little, OCR reads the figure."""
    from spark_arxiv_assets.core.ocr import LazyOcrEngine

    drawing = pymupdf.open()
    sheet = drawing.new_page(width=300, height=120)
    sheet.insert_text((20, 70), "VALIDATION LOSS", fontsize=28)
    picture = sheet.get_pixmap(dpi=150).tobytes("png")
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((72, 80), "Some body text above the figure, long enough to be a paragraph of the paper.")
    page.insert_image(pymupdf.Rect(72, 120, 372, 240), stream=picture)
    page.insert_text((72, 260), "Figure 2: Loss.")
    path = tmp_path / "thin-caption.pdf"
    doc.save(path)
    result = extract_pdf(str(path), ExtractionOptions(), LazyOcrEngine("rapidocr"))
    figure = next(b for b in result.pages[0].blocks if b["kind"] == "figure")
    assert figure["caption"] == "Figure 2: Loss." and "VALIDATION" in figure["figure_text"].upper()
    assert result.pages[0].method == "text"  # the page itself has a text layer: no page OCR


def test_a_wide_tables_rows_keep_their_column_names(tokenizer):
    """Sixteen long column names leave no room for a row under caption and names within the
    budget: every chunk still carries caption and names, with whole rows, longer than the budget
    by what one row needs. Names longer than the budget themselves give way to the caption."""
    options = ChunkingOptions(chunk_tokens=150)
    names = [f"{g} metric {m}" for g in "ABCD" for m in range(4)]
    header = "| " + " | ".join(names) + " |\n|" + "---|" * len(names)
    lines = ["| " + " | ".join(f"{i}.{j}" for j in range(16)) + " |" for i in range(6)]
    caption = "Table 3: Performance of baseline models on different tasks."
    unit = Unit("table", "5 Results", [(7, "\n".join(lines))], header=header, caption=caption)
    count = lambda text: len(tokenizer.encode(text, add_special_tokens=False))  # noqa: E731
    assert count(f"{caption}\n{header}") + count(lines[0]) > 150 >= count(header)
    chunks = chunk_units("p", "T", [unit], make_splitter(tokenizer, options), tokenizer, options)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk["text"].startswith(f"{caption}\n{header}\n")
        assert count(chunk["text"]) <= count(f"{caption}\n{header}") + 2 * (count(lines[0]) + 1)
    assert sorted(line for c in chunks for line in c["text"].splitlines() if line in lines) == sorted(lines)

    too_wide = Unit("table", "5 Results", [(7, "\n".join(lines))], header=header.replace("metric", "metric " * 8),
                    caption=caption)
    chunks = chunk_units("p", "T", [too_wide], make_splitter(tokenizer, options), tokenizer, options)
    assert all(c["text"].startswith(f"{caption}\n| ") and "metric" not in c["text"] for c in chunks)


def test_a_chunk_inside_a_group_of_rows_repeats_the_groups_label(tokenizer):
    """ "| | Tiny | |" labels the rows below it until the next label: a chunk that starts among
    them repeats it under the column names, and no chunk is a label alone."""
    options = ChunkingOptions(chunk_tokens=90)
    header = "| Dataset | Split | Words | Ratio |\n|---|---|---|---|"
    body = []
    for group in ("Tiny", "Short summaries", "Long"):
        body.append(f"| | {group} | | |")
        body += [f"| corpus {group.lower()} {i} | {i} | {i * 100}.5 | {i * 1.5:.1f} |" for i in range(1, 7)]
    unit = Unit("table", "3 Data", [(6, "\n".join(body))], header=header, caption="Table 2: Datasets.")
    chunks = chunk_units("p", "T", [unit], make_splitter(tokenizer, options), tokenizer, options)
    assert len(chunks) >= 6
    seen = []
    for chunk in chunks:
        rows = chunk["text"].splitlines()[3:]
        assert any(not row.startswith("| |") for row in rows)  # not a label alone
        for row in rows:
            if row.startswith("| corpus"):
                group = row.split()[2]
                labels = [r for r in rows[:rows.index(row)] if r.startswith("| |")]
                assert labels and group in labels[-1].lower(), (row, chunk["text"])
        seen += [row for row in rows if row not in seen]
    assert seen == body  # every row once, in order (a repeated label counted once)


def test_multi_lexsum_table_2_rows_carry_their_summary_length(corpora, tokenizer):
    """The real case: Multi-LexSum's Table 2 splits datasets into Tiny, Short and Long parts by a
    label row; the chunk holding "Multi-LexSum D →T" (a tiny-summary row) must say "Tiny"."""
    result = extracted(corpora, "2206.10883v3")
    options = ChunkingOptions()
    chunks, _ = clean_and_chunk_paper("2206.10883", "Multi-LexSum", [(p.page, p.text, p.blocks) for p in result.pages],
                                      make_splitter(tokenizer, options), tokenizer, options)
    table_2 = [c["text"] for c in chunks if c["chunk_type"] == "table" and c["text"].startswith("Table 2:")]
    expected = {"Multi-LexSum D →T": "Tiny", "Multi-LexSum D →S": "Short", "Multi-LexSum D →L": "Long"}
    for row_label, group in expected.items():
        [text] = [t for t in table_2 if f"| {row_label} |" in t]
        labels = [line for line in text.splitlines() if line.startswith("| |") and line.strip("| ")]
        assert labels and labels[-1].strip("| ") == group, text
