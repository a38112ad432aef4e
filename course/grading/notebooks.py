"""Small facts about course notebooks that every grading stage needs (no nbgrader run here)."""

from __future__ import annotations

import re
from pathlib import Path

from course.coursedir import PACKAGE_CHECKOUT as ROOT   # the checkout this package comes from: its exercises
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def exercises(root=ROOT):
    """Names of the exercises in source/ (folders holding a notebook of the same name), sorted."""
    return sorted(p.parent.name for p in Path(root, "source").glob("*/*.ipynb") if p.stem == p.parent.name)


def notebook_path(exercise, kind="source", root=ROOT):
    """Path of source/<exercise>/<exercise>.ipynb (kind="source") or of the release notebook."""
    if kind not in ("source", "release"):
        raise ValueError(f"kind must be 'source' or 'release', got {kind!r}")
    return Path(root, kind, exercise, f"{exercise}.ipynb")


def nbgrader_meta(cell):
    """The cell's nbgrader metadata dict ({} when it has none)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_test_cell(cell):
    """An auto-graded test cell: a code cell with points that is not a solution cell."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def graded_cells(nb):
    """{grade_id: points} of the auto-graded test cells, in notebook order."""
    return {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"] for c in nb.cells if is_test_cell(c)}


# Parts are "## Part N — Title (k points)" in every exercise; a heading of the same level or above that is not a
# part ("## Results", "## A stand-in model for testing") ends the part, deeper ones ("### ...") do not.
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_PART = re.compile(r"^Part\s+(\d+)\b", re.IGNORECASE)
PART_HEADING_LEVEL = 2


def _headings(cell):
    """[(level, text)] of the markdown headings of a cell, in order."""
    if cell.get("cell_type") != "markdown":
        return []
    found = (_HEADING.match(line) for line in cell.get("source", "").splitlines())
    return [(len(m.group(1)), m.group(2)) for m in found if m]


def part_of(nb, index):
    """"Part N" of the cell at `index` (0-based): from the nearest preceding part-level heading; "" outside a part."""
    for cell in reversed(nb.cells[:index]):
        for level, text in reversed(_headings(cell)):
            if level <= PART_HEADING_LEVEL:
                part = _PART.match(text)
                return f"Part {part.group(1)}" if part else ""
    return ""


def cell_label(nb, index):
    """A cell named for a human, the way JupyterLab counts (from 1) and the feedback names it (grade id):
    "Part 3, test_forward (cell 19)", "cell 4" for a cell outside any part without a grade id. `nb` may be None
    (only the position is known then); "" when `index` is not a cell position."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        return ""
    position = f"cell {index + 1}"
    if nb is None or index >= len(nb.cells):
        return position
    names = [part_of(nb, index), nbgrader_meta(nb.cells[index]).get("grade_id", "")]
    names = ", ".join(name for name in names if name)
    return f"{names} ({position})" if names else position


def cell_labels_by_grade_id(nb):
    """{grade_id: cell_label} of the cells of `nb` that have a grade id."""
    return {nbgrader_meta(c)["grade_id"]: cell_label(nb, i) for i, c in enumerate(nb.cells)
            if nbgrader_meta(c).get("grade_id")}


def python_source(source):
    """Python source of a cell with IPython syntax (magics, !shell) turned into plain Python (the text itself
    when IPython cannot transform it)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:   # noqa: BLE001 - a cell IPython cannot parse is read as it is
        return source


def between_markers(source, begin, end):
    """[(line number, line)] of the lines of `source` that stand between a `begin` and an `end` marker."""
    found, inside = [], False
    for number, line in enumerate(source.splitlines(), 1):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            found.append((number, line))
    return found


def hidden_blocks(source):
    """The lines of `source` that stand between hidden-test markers (markers excluded)."""
    return [line for _, line in between_markers(source, HIDDEN_BEGIN, HIDDEN_END)]


def secret_lines(nb, hidden_only=False, min_length=13):
    """Stripped lines of at least min_length characters that stand only between solution or
    hidden-test markers (or only hidden-test markers), never in the public part of the notebook."""
    pairs = [(HIDDEN_BEGIN, HIDDEN_END)] if hidden_only else [(SOLUTION_BEGIN, SOLUTION_END), (HIDDEN_BEGIN, HIDDEN_END)]
    public, secret = set(), set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if any(begin in line for begin, _ in pairs):
                inside = True
            elif any(end in line for _, end in pairs):
                inside = False
            else:
                (secret if inside else public).add(line.strip())
    return {line for line in secret - public if len(line) >= min_length}


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TAG = re.compile(r"<[^>]*>")


def normalize_text(text, html=False):
    """Text as a reader sees it, for comparing with code lines: ANSI colours, HTML tags and
    entities (when `html`), backslash escapes and runs of white space reduced to single spaces."""
    import html as html_module

    text = _ANSI.sub("", text)
    if html:
        text = _TAG.sub(" ", text)
    text = html_module.unescape(text)
    text = text.replace("\\n", "\n").replace("\\t", " ").replace("\\", "")
    return re.sub(r"\s+", " ", text)
