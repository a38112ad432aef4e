"""Stage *feedback*: nothing returned to a student carries a line of hidden-test code.

`nbgrader generate_feedback` runs, in this order (`c.GenerateFeedback.preprocessors`):

- `HideHiddenTests`: the hidden-test code is removed from the instructor's test cells, and their
  error outputs are cut to `ename: evalue` (a traceback quotes the hidden code). Only the test
  cells are touched: markers that a student quotes in a comment of their own cell break nothing.
- `ScrubHiddenTests`: every output of every cell (text, HTML, JSON, error messages) that
  contains a line of the exercise's hidden tests, after ANSI colours, HTML tags and escapes are
  taken out, is replaced by a note. This catches what student code printed, displayed or raised
  after reading the hidden code at run time (from the frames of a running test, say).
- `course.grading.sanitize.SanitizeStudentHTML`: student HTML and JavaScript are made inert.

`DescribeImages` runs in autograde: every image output gets alternative text in the graded notebook, which
the feedback and the formgrader render.
"""

from __future__ import annotations

import re

from nbformat.v4 import new_output
from traitlets import Integer, List

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .notebooks import HIDDEN_BEGIN, HIDDEN_END, hidden_blocks, is_test_cell, normalize_text

HIDDEN_NOTE = ("(Hidden tests ran in this cell; their code and traceback are not shown. "
               "The error above says what failed.)")
SCRUBBED_NOTE = "[grading: this output was removed because it contained hidden test code]\n"
IMAGE_TYPES = ("image/png", "image/jpeg")   # what nbconvert's HTML templates show as <img> with an alt


class HTMLPreprocessor(NbGraderPreprocessor):
    """Base of the course's preprocessors that nbconvert's HTML exporter runs (`generate_feedback`).

    That exporter configures `NbConvertBase.display_data_priority`, which every preprocessor inherits;
    nbgrader's base class redeclares the trait without `config=True`, so traitlets would log "Config option
    `display_data_priority` not recognized" for each of ours (nbgrader's GetGrades declares it too)."""

    display_data_priority = List(NbGraderPreprocessor.display_data_priority.default(),
                                 help="Output types by preference (nbconvert's setting; not used here).").tag(config=True)


class DescribeImages(HTMLPreprocessor):
    """Autograde step: an image output without alternative text gets one ("Image 1 shown by cell 5"), so
    that the feedback and the formgrader pages name it to a screen reader (nbconvert's HTML exporter warns
    "Alternative text is missing" otherwise). An `alt` the output or its cell already has is kept."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or cell.metadata.get("alt"):
            return cell, resources
        images = [(output, mime) for output in cell.get("outputs", []) for mime in IMAGE_TYPES
                  if mime in output.get("data", {})]
        for number, (output, mime) in enumerate(images, 1):
            metadata = output.setdefault("metadata", {}).setdefault(mime, {})
            if not (metadata.get("alt") or output["metadata"].get("alt")):
                metadata["alt"] = f"Image {number} shown by cell {index + 1}"
        return cell, resources


LOCATION = re.compile(r"^\(line \d+ of this test cell: ")   # the checker's last traceback line (checker._traceback)


def student_part(traceback_lines):
    """What a checker's traceback adds after the message: the student's own frames ("In your code:", when their
    code raised) and the line where the test cell stopped (by number). Tracebacks of a test cell run in the
    kernel quote the test's code, and give nothing here."""
    lines = [str(line) for line in traceback_lines or []]
    start = next((i for i, line in enumerate(lines) if line.startswith("In your code:")), None)
    if start is not None:
        return lines[start:]
    return lines[-1:] if lines and LOCATION.match(lines[-1]) else []


class HideHiddenTests(HTMLPreprocessor, ClearHiddenTests):
    """Remove hidden-test code from the test cells and reduce their error outputs to the message first.

    A traceback quotes the source around the failing line, so cells that held hidden tests keep the
    error's name and message (the assertion messages say what was checked), then the student's own
    frames and the failing line's number where the checker gave them (`student_part`).
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if not is_test_cell(cell):
            return cell, resources
        had_hidden = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}",
                                           *student_part(output.get("traceback")), HIDDEN_NOTE]
        return cell, resources


def hidden_test_lines(sources, public_sources, min_length=10):
    """Normalized lines that stand between hidden-test markers in `sources` and nowhere in
    `public_sources` (the release), at least `min_length` characters long."""
    public = {normalize_text(line).strip() for source in public_sources for line in source.splitlines()}
    for source in sources:   # the visible part of a test cell is public too
        inside = False
        for line in source.splitlines():
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            elif not inside:
                public.add(normalize_text(line).strip())
    hidden = {normalize_text(line).strip() for source in sources for line in hidden_blocks(source)}
    return {line for line in hidden - public if len(line) >= min_length}


def output_texts(output):
    """(text, is_html) pairs of everything an output shows."""
    texts = []
    if "text" in output:
        texts.append((output["text"], False))
    for key in ("ename", "evalue"):
        if key in output:
            texts.append((str(output[key]), False))
    texts += [(line, False) for line in output.get("traceback", [])]
    for mime, value in output.get("data", {}).items():
        if isinstance(value, str):
            texts.append((value, mime in ("text/html", "text/markdown", "image/svg+xml")))
        elif isinstance(value, (dict, list)):
            import json

            texts.append((json.dumps(value), False))
    return texts


def leaks(output, hidden_lines):
    """Does an output show one of the hidden lines?"""
    return any(line in normalize_text(text, html=is_html) for text, is_html in output_texts(output)
               for line in hidden_lines)


class ScrubHiddenTests(HTMLPreprocessor):
    """Replace every output that shows a line of the exercise's hidden tests by a note."""

    min_line_length = Integer(10, help="Hidden lines shorter than this (after normalizing) are not "
                                       "looked for (a bare `else:` says nothing).").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            try:
                cells = gradebook.find_notebook(info["notebook"], info["assignment"]).source_cells
            except MissingEntry:
                cells = []
            sources = [cell.source for cell in cells if HIDDEN_BEGIN in (cell.source or "")]
            public = [cell.source for cell in cells if HIDDEN_BEGIN not in (cell.source or "")]
        self.hidden = hidden_test_lines(sources, public, self.min_line_length)
        self.removed = 0
        nb, resources = super().preprocess(nb, resources)
        if self.removed:
            self.log.warning("%s: %d output(s) held hidden test code and were removed from the feedback",
                             info["student"], self.removed)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not self.hidden:
            return cell, resources
        outputs = []
        for output in cell.get("outputs", []):
            if leaks(output, self.hidden):
                self.removed += 1
                if output.get("output_type") == "error":
                    output = new_output("error", ename=output.get("ename", "Error"),
                                        evalue="[message removed: it quoted hidden test code]",
                                        traceback=[f"{output.get('ename', 'Error')}: [message removed: it quoted "
                                                   f"hidden test code]"])
                else:
                    output = new_output("stream", name="stdout", text=SCRUBBED_NOTE)
            outputs.append(output)
        cell.outputs = outputs
        return cell, resources
