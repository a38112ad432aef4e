"""Honest reorganizations of a notebook: the same code in other cells, as tidy or careless students hand it in.

Each layout takes a notebook (the source, a student's form or a wrong solution) and returns a copy whose
solution code is the same but laid out differently. Grading must give each layout the scores the intact
notebook with the same code earns (tests/test_grading.py, tests/test_repair.py).
"""

from __future__ import annotations

import ast
import copy

import nbformat

from course.grading.notebooks import nbgrader_meta

EMPTIED = "# (my code for this part is in the first solution cell)"


def _solution_indices(nb):
    return [i for i, cell in enumerate(nb.cells) if nbgrader_meta(cell).get("solution") and cell.cell_type == "code"]


def all_in_first_cell(nb):
    """All solution code moved into the first solution cell; the other solution cells keep only a comment."""
    nb = copy.deepcopy(nb)
    indices = _solution_indices(nb)
    nb.cells[indices[0]].source = "\n\n".join(nb.cells[i].source for i in indices)
    for i in indices[1:]:
        nb.cells[i].source = EMPTIED
    return nb


def all_in_first_cell_others_deleted(nb):
    """All solution code in the first solution cell, the other solution cells deleted, no nbgrader metadata left
    (what an editor that drops metadata makes of a notebook tidied up this way)."""
    nb = copy.deepcopy(all_in_first_cell(nb))
    nb.cells = [cell for i, cell in enumerate(nb.cells) if i not in _solution_indices(nb)[1:]]
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def functions_moved_up(nb):
    """Functions moved between solution cells: each solution cell holds the next one's code (the first keeps its
    own too), so every function is defined no later than in the intact notebook; the last keeps a comment."""
    nb = copy.deepcopy(nb)
    indices = _solution_indices(nb)
    sources = [nb.cells[i].source for i in indices]
    moved = [sources[0] + "\n\n" + sources[1], *sources[2:], EMPTIED]
    for i, source in zip(indices, moved):
        nb.cells[i].source = source
    return nb


def split_with_helpers(nb):
    """Each solution cell split into one cell per function (only the first part keeps the metadata), and a
    helper cell and a note of the student's own added after the setup cell."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if not (nbgrader_meta(cell).get("solution") and cell.cell_type == "code"):
            cells.append(cell)
            continue
        lines = cell.source.splitlines(keepends=True)
        starts = [node.lineno - 1 for node in ast.parse(cell.source).body] + [len(lines)]
        starts[0] = 0   # comments above the first statement stay with it
        parts = ["".join(lines[a:b]) for a, b in zip(starts, starts[1:])]
        cell.source = parts[0]
        cells.append(cell)
        cells += [nbformat.v4.new_code_cell(part) for part in parts[1:]]
    setup = next(i for i, cell in enumerate(cells) if cell.cell_type == "code")
    cells[setup + 1:setup + 1] = [
        nbformat.v4.new_markdown_cell("My notes: helpers I wrote for myself."),
        nbformat.v4.new_code_cell("def describe(x):\n    \"\"\"My own helper: a short description of an array.\"\"\"\n"
                                  "    return f'{type(x).__name__} {getattr(x, \"shape\", \"\")}'\n"),
    ]
    nb.cells = cells
    return nb


LAYOUTS = {
    "all_in_first_cell": all_in_first_cell,
    "all_in_first_cell_others_deleted": all_in_first_cell_others_deleted,
    "functions_moved_up": functions_moved_up,
    "split_with_helpers": split_with_helpers,
}
