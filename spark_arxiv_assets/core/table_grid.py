"""The cell grid of a table PyMuPDF's finder found, read from the words' positions, and its
Markdown.

The finder takes columns and rows from ruled lines, and scientific tables rule groups, not
cells: five numbers under one "D → L" rule come back as one cell ("53.73 27.32 30.89 42.01
416.3"), lines with no rule between them as one row, and a header in two rows (group labels
over column names) as two rows where only the lower one names the columns. This module puts
back what the words' positions show: sub-columns from blank vertical strips, rows from line
positions, and one header row with "group name" column names."""
from __future__ import annotations

import re
import statistics
from collections import Counter

import numpy as np

Rect = tuple[float, float, float, float]
Lines = list[tuple[float, str]]  # (y, text) of each text line in a cell, top to bottom

# A blank strip at least this many word heights wide, crossing every row, separates sub-columns.
# The space between words is about 0.3 of a word height; sub-columns in the corpora's tables are
# 0.5 apart and more.
SUBCOLUMN_GAP = 0.4
_ITEM = re.compile(r"[a-z]{1,3}[.)]\s")  # "a. ", "b) ", "iv. "
_NUMBER = re.compile(r"[\s\d.,%()±+\-−–/]*\d[\s\d.,%()±+\-−–/]*")


def cell_text(value) -> str:
    return re.sub(r"\s+", " ", str(value or "")).replace("|", "\\|").strip()


def _centre_inside(word: tuple, box: Rect) -> bool:
    x, y = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def cell_lines(cell: Rect | None, words: list[tuple]) -> Lines:
    """(y, text) of each text line inside a cell, top to bottom, words in the text layer's order."""
    if not cell:
        return []
    lines: list[list] = []  # [y, [words]]
    for w in words:
        if _centre_inside(w, cell):
            y = (w[1] + w[3]) / 2
            line = next((line for line in lines if abs(line[0] - y) < 2.5), None)
            if line is None:
                lines.append([y, [w[4]]])
            else:
                line[1].append(w[4])
    return [(y, " ".join(text)) for y, text in sorted(lines, key=lambda line: line[0])]


def _extent(cell: Rect) -> tuple[float, float]:
    return round(cell[0], 1), round(cell[2], 1)


def _column_box(table, column: int) -> tuple[float, float] | None:
    """The x extent most of the column's cells have (cells spanning several columns are wider)."""
    extents = Counter(_extent(row.cells[column]) for row in table.rows if row.cells[column])
    return extents.most_common(1)[0][0] if extents else None


def _blank_strips(covered: list[bool], xs: list[float], min_width: float) -> list[float]:
    """Centres of the runs of uncovered x between the first and the last covered x."""
    edges, run_start = [], None
    first, last = covered.index(True), len(covered) - 1 - covered[::-1].index(True)
    for i in range(first, last + 1):
        if not covered[i] and run_start is None:
            run_start = i
        elif covered[i] and run_start is not None:
            if xs[i] - xs[run_start] >= min_width:
                edges.append((xs[run_start] + xs[i]) / 2)
            run_start = None
    return edges


def subcolumn_edges(table, column: int, words: list[tuple]) -> list[float]:
    """x positions where finder column `column` splits into the sub-columns it merged: blank
    vertical strips at least SUBCOLUMN_GAP word heights wide in the rows below the first (the
    first may hold a group label centred over them). Rows with numbers must leave a strip blank;
    up to half of the rows may cross it if they hold no number: group labels ("Common Document
    Types", "L → S Fine-tuning") that stay whole. A split is kept only when every sub-column has
    words in at least half of the rows, so an accidental gap in a text column is not one."""
    box = _column_box(table, column)
    if box is None:
        return []
    rows = []  # the words of each row's cell in this column: (x0, x1, height, text)
    for row in table.rows[1:]:
        cell = row.cells[column]
        if cell and _extent(cell) == box:
            if spans := [(w[0], w[2], w[3] - w[1], w[4]) for w in words if _centre_inside(w, cell)]:
                rows.append(spans)
    if len(rows) < 2:
        return []
    height = statistics.median(h for spans in rows for _, _, h, _ in spans)
    xs = np.arange(box[0], box[1] + 0.5, 0.5)
    crossing = np.array([((xs >= np.array([[s[0]] for s in spans])) & (xs <= np.array([[s[1]] for s in spans]))).any(0)
                         for spans in rows])  # rows × x: does a word of the row cover x
    numeric = np.array([any(any(ch.isdigit() for ch in text) for *_, text in spans) for spans in rows])
    covered = (crossing[numeric].any(0) | (crossing.sum(0) * 2 > len(rows))).tolist()
    edges = _blank_strips(covered, xs.tolist(), SUBCOLUMN_GAP * height) if any(covered) else []
    bounds = [box[0], *edges, box[1]]
    for left, right in zip(bounds, bounds[1:]):
        rows_here = sum(any(left <= (x0 + x1) / 2 <= right for x0, x1, _, _ in spans) for spans in rows)
        if rows_here * 2 < len(rows):
            return []
    return edges


def _word_groups(words: list[tuple]) -> list[list[tuple]]:
    """Words grouped left to right, a new group after a blank strip of SUBCOLUMN_GAP word heights."""
    if not words:
        return []
    height = statistics.median(w[3] - w[1] for w in words)
    groups, right = [], None
    for w in sorted(words, key=lambda w: w[0]):
        if right is None or w[0] - right >= SUBCOLUMN_GAP * height:
            groups.append([])
        groups[-1].append(w)
        right = w[2] if right is None else max(right, w[2])
    return groups


def _split_cell(cell: Rect | None, box: tuple[float, float] | None, edges: list[float], words: list[tuple],
                is_header: bool) -> list[Lines]:
    """One finder cell as its sub-cells. A cell spanning other columns, or whose words cross a
    sub-column edge (a group label), stays whole in the first sub-cell, unless it is a header
    cell whose words fall into as many groups as there are sub-columns; a header cell whose words
    sit in one sub-column is a group label over all of them."""
    inside = [w for w in words if cell and _centre_inside(w, cell)]
    if not edges or not cell or box is None or _extent(cell) != box:
        return [cell_lines(cell, words)] + [[] for _ in edges]
    if any(w[0] < edge < w[2] for w in inside for edge in edges):
        if is_header and len(groups := _word_groups(inside)) == len(edges) + 1:  # a name wider than its numbers
            return [cell_lines(cell, group) for group in groups]
        return [cell_lines(cell, words)] + [[] for _ in edges]
    bounds = [cell[0], *edges, cell[2]]
    parts = [cell_lines((left, cell[1], right, cell[3]), inside) for left, right in zip(bounds, bounds[1:])]
    filled = [part for part in parts if part]
    if is_header and len(filled) == 1:
        return [filled[0]] * len(parts)
    return parts


def _middle(lines: Lines) -> float:
    return (lines[0][0] + lines[-1][0]) / 2


def split_stacked_row(cells: list[Lines]) -> list[tuple[list[str], float]]:
    """A row the finder merged because no rule separates its lines ("GENIA - LAS" over "GENIA -
    UAS", each number cell two lines high) is split back: when at least half of the filled cells
    have the same number of lines n > 1 and the rest have at most one, it becomes n rows, a
    one-line cell going to the line nearest to it (a label centred across the rows). Each row
    comes with the height of its middle."""
    filled = [c for c in cells if c]
    heights = Counter(len(c) for c in filled)
    n = max(heights, default=0)
    if n < 2 or heights[n] * 2 < len(filled) or any(1 < len(c) < n for c in filled):
        middle = statistics.mean(_middle(c) for c in filled) if filled else 0.0
        return [([" ".join(text for _, text in c) for c in cells], middle)]
    anchors = [y for y, _ in next(c for c in filled if len(c) == n)]
    rows = [[""] * len(cells) for _ in range(n)]
    for col, cell in enumerate(cells):
        if len(cell) == n:
            for i, (_, text) in enumerate(cell):
                rows[i][col] = text
        elif cell:
            nearest = min(range(n), key=lambda i: abs(anchors[i] - cell[0][0]))
            rows[nearest][col] = cell[0][1]
    return list(zip(rows, anchors))


def spread_centred_labels(rows: list[list[str]], middles: list[float], label_middles: list[float]) -> list[list[str]]:
    """A first-column label set vertically centred beside its group ("Always Include" beside eight
    rows, the rows above it empty in that column) is given to every row of its group, so that each
    row says what it is about. Only where the first data row has no label and every data row is
    either full or full but for its label; a group runs from the row after the previous group to
    as far below its label as it starts above it. A label on its group's first row (rows below it
    empty) is left alone: there the empty rows are as often a wrapped cell as a member of a group."""
    def member(row: list[str]) -> bool:
        return not row[0] and all(row[1:])

    data = range(1, len(rows))
    if len(rows) < 4 or len(rows[0]) < 2 or not member(rows[1]) \
            or not all(member(rows[i]) or all(rows[i]) for i in data) or all(member(rows[i]) for i in data):
        return rows
    pitch = statistics.median(b - a for a, b in zip(middles[1:], middles[2:]))
    out, start = [list(row) for row in rows], 1
    for label in (i for i in data if rows[i][0]):
        if label < start:
            continue
        end = 2 * label_middles[label] - middles[start] + pitch / 2
        stop = label + 1
        while stop < len(rows) and member(rows[stop]) and middles[stop] <= end:
            stop += 1
        for i in range(start, stop):
            out[i][0] = rows[label][0]
        start = stop
    return out


def table_rows(table, words: list[tuple]) -> list[list[str]]:
    """Each cell's words in the text layer's own order (the finder's `extract()` re-sorts
    characters by position and breaks numbers whose decimal point sits lower: "0965 ."),
    merged sub-columns and stacked rows split back, header rows merged, centred group labels spread
    over their rows, a cell's wrapped second line joined to its row; rows without text are left
    out. The first row is the header: an empty one when the table's first row is not (more than
    half of its cells filled)."""
    boxes = [_column_box(table, column) for column in range(table.col_count)]
    edges = [subcolumn_edges(table, column, words) for column in range(table.col_count)]
    rows, middles, label_middles = [], [], []
    for number, row in enumerate(table.rows):
        cells = [part for column, cell in enumerate(row.cells)
                 for part in _split_cell(cell, boxes[column], edges[column], words, is_header=number == 0)]
        if number == 0:  # a header's lines are one label wrapped ("Inference / time (secs)")
            split = [([" ".join(text for _, text in c) for c in cells], 0.0)]
        else:
            split = split_stacked_row(cells)
        label_middle = _middle(cells[0]) if cells and cells[0] else 0.0
        for texts, middle in split:
            if any(cell_text(text) for text in texts):
                rows.append(texts)
                middles.append(middle)
                label_middles.append(label_middle)
    rows = merge_header_rows(rows)
    middles, label_middles = middles[-len(rows):], label_middles[-len(rows):]  # merged rows were the first
    if rows and not _is_header(rows[0]):  # no data row is taken for column names
        rows, middles, label_middles = [[""] * len(rows[0]), *rows], [0.0, *middles], [0.0, *label_middles]
    return merge_wrapped_rows(spread_centred_labels(rows, middles, label_middles))


def _continues(upper: str, lower: str) -> bool:
    """`lower` is the next line of a cell whose first line is `upper`: a text that does not end
    a sentence, followed by one that starts in lower case ("… Interaction techniques" / "for
    accessing video content."), and not an item of its own ("b. Type of counsel")."""
    return bool(upper) and upper[-1] not in ".!?:;" and lower[:1].islower() and not _ITEM.match(lower)


def _join_wrapped(upper: str, lower: str) -> str:
    if upper.endswith("-") and upper[-2:-1].isalpha():  # "litigation docu-" / "ments": one word
        return upper[:-1] + lower
    return f"{upper} {lower}" if upper and lower else upper or lower


def merge_wrapped_rows(rows: list[list[str]]) -> list[list[str]]:
    """A data row that is the second line of the row above it (the finder found no rule between
    them) is joined to it: some cell continues the text above it in lower case, and every other
    filled cell either sits under an empty one (a value set on the second line; not a row label,
    which starts a row) or continues a label broken at "/" or "-" ("Declaration/" / "Affidavit").
    A row that holds a new value under a filled cell is a row of its own, whatever its case:
    "| bert | 0.5 |" / "| roberta | 0.6 |" stays two rows."""
    out = [list(row) for row in rows[:2]]
    for row in rows[2:]:
        above = out[-1]
        pairs = list(zip(above, row))
        wraps = [_continues(a, b) for a, b in pairs]
        fits = all(w or not b or (not a and column) or a[-1:] in ("/", "-")
                   for column, ((a, b), w) in enumerate(zip(pairs, wraps)))
        if len(out) > 1 and any(wraps) and fits and len(row) == len(above):
            out[-1] = [_join_wrapped(a, b) for a, b in pairs]
        else:
            out.append(list(row))
    return out


def _is_group_row(upper: list[str], lower: list[str]) -> bool:
    """`upper` labels groups of `lower`'s columns: one of its labels stands over two filled cells
    of `lower` (the label repeated, or followed by an empty cell), and `lower` holds names, not
    numbers. A plain header over a data row has a different label over every column; a label of
    more than six words is a title or a caption, not a group name."""
    if any(_NUMBER.fullmatch(cell) for cell in lower if cell) or any(len(c.split()) > 6 for c in upper):
        return False
    return any(upper[c] and upper[c + 1] in ("", upper[c]) and lower[c] and lower[c + 1]
               for c in range(len(upper) - 1))


def merge_header_rows(cells: list[list[str]]) -> list[list[str]]:
    """Group labels over column names become one header row of "group name" names ("Source
    Words", "D → L R-1f1"). A label covers the empty cells to its right while the row below names
    them. Only where most rows below hold numbers, and at most two merges: in text tables, and
    below a third header row, data rows look just like names."""
    numeric_rows = sum(any(_NUMBER.fullmatch(c) for c in row if c) for row in cells[2:])
    if numeric_rows * 2 < len(cells) - 2:  # a text table: its second row is data, however it looks
        return cells
    for _ in range(2):
        if len(cells) < 3 or not _is_group_row(cells[0], cells[1]):
            break
        label, merged = "", []
        for upper, lower in zip(cells[0], cells[1]):
            label = upper or (label if lower else "")
            merged.append(lower if label in ("", lower) else f"{label} {lower}".strip())
        cells = [merged] + cells[2:]
    return cells


def _is_header(row: list[str]) -> bool:
    return sum(bool(cell_text(c)) for c in row) * 2 > len(row)


def table_markdown(rows: list[list]) -> str:
    """`rows` as `table_rows` gives them: the first is the header (empty where the table has
    none). Every row gets the same number of cells."""
    cols = max(len(r) for r in rows)
    cells = [[cell_text(c) for c in r] + [""] * (cols - len(r)) for r in rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * cols]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines)
