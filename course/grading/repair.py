"""Stage *repair*: give a submission back the nbgrader metadata of the release notebook.

Editors, LMS round trips and students lose or garble nbgrader's cell metadata (nbgrader #1398,
#1083): a stripped notebook scores zero, a pasted test cell or a changed `schema_version` stops
the whole batch. `RepairMetadata` (first in `Autograde.sanitize_preprocessors`) never trusts the
submitted metadata. It matches every cell of the release notebook to the submitted cells:

- test and locked cells by their text (exact after white space, else the most similar, at least
  60 % alike), a solution cell by the functions and classes it defines (a cell split in two goes
  to the part with most of them), the submitted grade id and the position only break ties;
- the matched cell gets the release cell's nbgrader metadata; a test or locked cell also gets its
  source from the gradebook (hidden tests included), so nbgrader's OverwriteCells has nothing to
  report for the test cells whose hidden tests were removed at release. A test or locked cell
  the student really changed is reported once, as a flag;
- a release cell with no match is restored from the release at its place (a deleted test cell
  runs again; a deleted solution cell comes back as its stub);
- every other cell keeps its code and output but loses nbgrader metadata (pasted copies, unknown
  grade ids, a solution cell turned into a grade cell): it runs and is not graded.

What was repaired is logged and kept, cell by cell, in the grading record
(`course.grading.records`). A file that is no notebook at all is rejected by
`TolerantNotebookExporter` with the reason, and graded zero without running.
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
import re
import uuid
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from traitlets import Float

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from . import records
from .notebooks import is_test_cell, nbgrader_meta, python_source

MIN_SIMILARITY = 0.6


class NotGradable(ValueError):
    """A submission that cannot be graded, with the reason in its message."""


# ----------------------------------------------------------------------------- features of a cell

def defined_names(source):
    """Names of the functions and classes a code cell defines at top level (empty if it does not parse)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


class _Bindings(ast.NodeVisitor):
    """Names a module binds at its top level (also inside if/for/with/try), not inside functions or classes."""

    def __init__(self):
        self.names = set()

    def _define(self, node):
        self.names.add(node.name)   # the body binds only local names: not visited

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _define

    def visit_Lambda(self, node):
        pass

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_alias(self, node):
        self.names.add((node.asname or node.name).split(".")[0])


def bound_names(source):
    """Every name a code cell binds at top level: functions, classes, assignments, imports (empty if it does not parse)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    visitor = _Bindings()
    visitor.visit(tree)
    return visitor.names


def without_definitions(source, names):
    """`source` without its top-level function and class definitions of `names` (decorators included)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    drop = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            drop.update(range(first - 1, node.end_lineno))
    return "".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")


def normalized(source):
    """A cell's text with trailing white space, blank lines and indentation differences dropped."""
    return "\n".join(line.strip() for line in source.splitlines() if line.strip())


def similarity(a, b, threshold=MIN_SIMILARITY):
    """How alike two normalized texts are, 0..1 (0 when clearly below `threshold`)."""
    if a == b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return matcher.ratio() if matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold else 0.0


def kind(cell):
    """'test', 'solution', 'locked', 'task' or None, from a release cell's nbgrader metadata."""
    meta = nbgrader_meta(cell)
    if not meta.get("grade_id"):
        return None
    if meta.get("solution"):
        return "solution"
    if is_test_cell(cell):
        return "test"
    if meta.get("task"):
        return "task"
    return "locked" if meta.get("locked") else None


# ----------------------------------------------------------------------------- matching

def match_cells(release_cells, submitted_cells, threshold=MIN_SIMILARITY, alternates=None):
    """{release index: submitted index} for the release cells with nbgrader metadata.

    alternates: {grade_id: source} other texts a cell may have (the instructor's source, with
    hidden tests, for the test cells) that count as the same cell. Cells with the same text are
    matched first; only the rest are compared for similarity (difflib is slow on long cells)."""
    alternates = alternates or {}
    n_release, n_submitted = max(len(release_cells), 1), max(len(submitted_cells), 1)
    sub_text = [normalized(c.get("source", "")) for c in submitted_cells]
    sub_names = [defined_names(c.get("source", "")) if c.get("cell_type") == "code" else set() for c in submitted_cells]
    sub_ids = [nbgrader_meta(c).get("grade_id") for c in submitted_cells]
    references = []
    for r, cell in enumerate(release_cells):
        what = kind(cell)
        if what is not None:
            grade_id = nbgrader_meta(cell)["grade_id"]
            texts = [normalized(cell.source)] + ([normalized(alternates[grade_id])] if grade_id in alternates else [])
            names = defined_names(cell.source) if cell.cell_type == "code" else set()
            references.append((r, cell, what, grade_id, texts, names))

    def place(s, r):   # tie-breaks: the submitted grade id, then the position
        return 0.05 * (sub_ids[s] == release_cells[r].metadata.nbgrader["grade_id"]) \
            - 0.02 * abs(s / n_submitted - r / n_release)

    def assign(candidates, matches, used):
        for score, r, s in sorted(candidates, key=lambda t: (-t[0], t[1], t[2])):
            if r not in matches and s not in used:
                matches[r] = s
                used.add(s)

    matches, used = {}, set()
    exact = []   # pass 1: the same text (or, for solution cells, the same functions)
    for r, cell, what, grade_id, texts, names in references:
        for s, submitted in enumerate(submitted_cells):
            if submitted.get("cell_type") != cell.cell_type:
                continue
            if what == "solution" and names:
                if names & sub_names[s]:
                    exact.append((len(names & sub_names[s]) / len(names) + 0.1 * (sub_text[s] in texts)
                                  + place(s, r), r, s))
            elif sub_text[s] in texts:
                exact.append((1.0 + place(s, r), r, s))
    assign(exact, matches, used)
    similar = []   # pass 2: the most similar of what is left
    for r, cell, what, grade_id, texts, names in references:
        if r in matches or (what == "solution" and names):
            continue
        for s, submitted in enumerate(submitted_cells):
            if s in used:
                continue
            same_type = submitted.get("cell_type") == cell.cell_type
            score = max(similarity(t, sub_text[s], threshold) for t in texts)
            if score < threshold and not (what == "solution" and sub_ids[s] == grade_id and same_type):
                continue
            similar.append((score - 0.2 * (not same_type) + place(s, r), r, s))
    assign(similar, matches, used)
    # pass 3: a solution cell whose functions all went elsewhere keeps its place in a cell with its grade id
    # (an emptied cell, or one holding other code), so no stub is restored after the student's code
    for r, cell, what, grade_id, texts, names in references:
        if r in matches or what != "solution":
            continue
        for s, submitted in enumerate(submitted_cells):
            if s not in used and sub_ids[s] == grade_id and submitted.get("cell_type") == cell.cell_type:
                matches[r] = s
                used.add(s)
                break
    return matches


def load_release(resources, config):
    """The release notebook of the notebook being graded (the reference for repair)."""
    info = resources["nbgrader"]
    coursedir = CourseDirectory(config=config)
    path = Path(coursedir.format_path(coursedir.release_directory, ".", info["assignment"]), f"{info['notebook']}.ipynb")
    if not path.is_file():
        raise FileNotFoundError(f"cannot repair submissions without the release notebook {path} "
                                f"(run `nbgrader generate_assignment {info['assignment']}`)")
    return nbformat.read(path, as_version=4)


class RepairMetadata(NbGraderPreprocessor):
    """Restore each cell's nbgrader metadata by matching the submission to the release notebook."""

    min_similarity = Float(MIN_SIMILARITY, help="How alike a test or locked cell must be to its release "
                                                "text to be matched (0..1).").tag(config=True)

    def preprocess(self, nb, resources):
        rejected = nb.metadata.get(records.KEY, {}).get("rejected") if resources.get("_dl_rejected") else None
        records.reset(nb)
        if rejected:
            records.record(nb)["rejected"] = rejected
            self._as_in_the_source(nb.cells, resources)
            return nb, resources
        release = load_release(resources, self.config)
        sources = self._gradebook_sources(resources)
        matches = match_cells(release.cells, nb.cells, self.min_similarity, alternates=sources)
        student = self._student = resources["nbgrader"]["student"]
        if not any(kind(release.cells[r]) in ("test", "solution") for r in matches):
            reason = (f"none of its cells matches {resources['nbgrader']['notebook']} "
                      f"(another exercise, or an empty notebook?)")
            self.log.error("%s: rejected: %s", student, reason)
            nb.cells = self._as_in_the_source([copy.deepcopy(c) for c in release.cells], resources, sources)
            records.record(nb)["rejected"] = reason
            return nb, resources

        matched = {s: r for r, s in matches.items()}
        cells = []
        for s, cell in enumerate(nb.cells):
            if s in matched:
                cells.append(self._restore(cell, release.cells[matched[s]], sources, s, nb))
            else:
                self._strip(cell, s, nb)
                cells.append(cell)
        # Release cells nobody matched come back after the cell matched to their predecessor; a solution
        # cell comes back without the definitions that the student's code makes elsewhere (no stub may
        # shadow them).
        position = {r: cells.index(nb.cells[s]) for r, s in matches.items()}
        student_names = set().union(*(bound_names(c.source) for c in cells if c.get("cell_type") == "code"))
        for r, cell in enumerate(release.cells):
            if kind(cell) is None or r in matches:
                continue
            restored = copy.deepcopy(cell)
            restored.source = sources.get(nbgrader_meta(cell)["grade_id"], cell.source) if kind(cell) != "solution" else cell.source
            kept = defined_names(cell.source) & student_names if kind(cell) == "solution" and cell.cell_type == "code" else set()
            if kept:
                restored.source = (without_definitions(cell.source, kept) + "\n").lstrip("\n") + \
                    f"# (restored by grading without {', '.join(sorted(kept))}: defined elsewhere in the notebook)"
            before = [position[p] for p in position if p < r]
            at = max(before) + 1 if before else 0
            cells.insert(at, restored)
            for p in position:
                if position[p] >= at:
                    position[p] += 1
            position[r] = at
            what = {"test": "test cell", "solution": "solution cell (as its stub)", "locked": "locked cell",
                    "task": "task cell"}[kind(cell)]
            if kept:
                what = f"solution cell (as its stub without {', '.join(sorted(kept))}, which the notebook defines)"
            self._note(nb, at, f"{what} {nbgrader_meta(cell)['grade_id']!r} was missing: restored from the release")
        nb.cells = cells
        _fix_cell_ids(nb)
        return nb, resources

    def _as_in_the_source(self, cells, resources, sources=None):
        """Release cells standing in for a rejected file, their test and locked cells with the source's text
        (hidden tests included), as nbgrader restores them: no "checksum has changed" for cells nobody edited."""
        sources = self._gradebook_sources(resources) if sources is None else sources
        for cell in cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            if kind(cell) in ("test", "locked") and grade_id in sources:
                cell.source = sources[grade_id]
        return cells

    def _gradebook_sources(self, resources):
        """{grade_id: source} of the assignment's locked and test cells as stored at generate_assignment."""
        info = resources["nbgrader"]
        sources = {}
        with Gradebook(info["db_url"]) as gradebook:
            try:
                notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
            except MissingEntry:
                return sources
            for cell in notebook.source_cells:
                if cell.locked:
                    sources[cell.name] = cell.source
        return sources

    def _restore(self, cell, reference, sources, index, nb):
        meta = copy.deepcopy(nbgrader_meta(reference))
        grade_id = meta["grade_id"]
        old = nbgrader_meta(cell)
        if cell.get("cell_type") != reference.cell_type:
            self._note(nb, index, f"cell type of {grade_id!r} set back to {reference.cell_type}")
            _set_cell_type(cell, reference.cell_type)
        if kind(reference) in ("test", "locked") and grade_id in sources:
            if normalized(cell.source) not in (normalized(reference.source), normalized(sources[grade_id])):
                records.note(nb, "flags", cell=index, reason=f"the student changed the {kind(reference)} cell "
                                                            f"{grade_id!r} (restored from the source)")
                self.log.warning("%s: cell %s (%s) was changed by the student: restored from the source",
                                 self._student, index, grade_id)
            cell.source = sources[grade_id]
        if {k: v for k, v in old.items() if k != "checksum"} != {k: v for k, v in meta.items() if k != "checksum"}:
            self._note(nb, index, f"nbgrader metadata of {grade_id!r} restored"
                                  + (" (it had none)" if not old else f" (it had grade_id {old.get('grade_id')!r})"
                                     if old.get("grade_id") != grade_id else ""))
        cell.setdefault("metadata", {})["nbgrader"] = meta
        return cell

    def _strip(self, cell, index, nb):
        old = cell.get("metadata", {}).pop("nbgrader", None)
        if old:
            self._note(nb, index, f"nbgrader metadata removed (a copy of, or not in, the release: grade_id "
                                  f"{old.get('grade_id')!r}); the cell runs but is not graded")

    def _note(self, nb, index, what):
        records.note(nb, "repairs", cell=index, what=what)
        self.log.info("Repaired cell %s: %s", index, what)


def _set_cell_type(cell, cell_type):
    cell["cell_type"] = cell_type
    if cell_type == "code":
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _fix_cell_ids(nb):
    """Unique cell ids where the format has them (4.5+), none where it does not."""
    seen = set()
    for cell in nb.cells:
        if nb.get("nbformat_minor", 0) < 5 or nb.get("nbformat", 4) < 4:
            cell.pop("id", None)
            continue
        if not cell.get("id") or cell["id"] in seen or not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", str(cell["id"])):
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])


# ----------------------------------------------------------------------------- files that are no notebook

def read_submission(text):
    """The notebook in a submitted file's text, or NotGradable with the reason (empty, not JSON, not a notebook)."""
    if not text.strip():
        raise NotGradable("the file is empty")
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as error:
        raise NotGradable(f"the file is not valid JSON (line {error.lineno}, column {error.colno}: "
                          f"{error.msg}); was it cut off or edited by hand?") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotGradable("the file is JSON but not a Jupyter notebook (no list of cells)")
    if data.get("nbformat") != 4:
        raise NotGradable(f"nbformat {data.get('nbformat')!r} notebooks are not supported (save it with "
                          f"Jupyter as nbformat 4)")
    data.setdefault("metadata", {})
    data.setdefault("nbformat_minor", 0)
    for cell in data["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotGradable("a cell of the notebook is malformed (no cell_type)")
        cell.setdefault("metadata", {})
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(str(part) for part in cell["source"])
        cell.setdefault("source", "")
        if cell["cell_type"] == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
        if not isinstance(cell["metadata"].get("nbgrader", {}), dict):
            del cell["metadata"]["nbgrader"]
    nb = nbformat.from_dict(data)
    _fix_cell_ids(nb)
    return nb


class TolerantNotebookExporter(NotebookExporter):
    """The notebook exporter of `nbgrader autograde` (`c.Autograde.exporter_class`): a submitted file
    that is not a readable notebook becomes the release notebook marked *rejected* with the reason,
    so the student gets a zero with that reason and the batch goes on."""

    def from_file(self, file_stream, resources=None, **kw):
        resources = resources if resources is not None else {}
        try:
            try:
                text = file_stream.read()
            except UnicodeDecodeError:
                raise NotGradable("the file is not text (not a notebook)") from None
            nb = read_submission(text)
        except NotGradable as error:
            info = resources.get("nbgrader", {})
            self.log.error("%s: %s.ipynb rejected: %s", info.get("student", "?"), info.get("notebook", "?"), error)
            nb = load_release(resources, self.config)
            records.reset(nb)["rejected"] = str(error)
            resources["_dl_rejected"] = True
        return self.from_notebook_node(nb, resources=resources, **kw)
