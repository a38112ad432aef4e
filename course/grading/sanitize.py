"""Student HTML and JavaScript made inert, in the graded notebook and in the feedback.

The formgrader renders `autograde/<student>/<exercise>/*.ipynb` for the instructor and
`generate_feedback` renders it for the student; nbconvert does not sanitize either. A
`<script>` that a submission printed or put in a Markdown cell would run in the instructor's
browser. `SanitizeStudentHTML` is nbconvert's bleach-based `SanitizeHTML` applied to every code
output and to the Markdown and raw cells that are not the release's own text (the instructor's
Markdown is kept as written). JavaScript outputs are dropped; HTML keeps a safe set of tags
(tables, text formatting) so that data frames still render.
"""

from __future__ import annotations

from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import Bool, List, Unicode

from .notebooks import nbgrader_meta
from .repair import load_release, normalized

SAFE_TAGS = ["a", "abbr", "b", "blockquote", "br", "caption", "code", "del", "div", "em", "h1", "h2", "h3",
             "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "samp", "small", "span", "strong",
             "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"]


class SanitizeStudentHTML(SanitizeHTML):
    """Sanitize outputs and student-written Markdown; leave the release's Markdown alone."""

    enabled = Bool(True, help="nbconvert preprocessors are off unless enabled; this one is always on.").tag(config=True)
    tags = List(Unicode(), SAFE_TAGS, help="HTML tags kept in student HTML.").tag(config=True)

    def preprocess(self, nb, resources):
        try:
            release = load_release(resources, self.config)
            self.release_text = {normalized(c.source) for c in release.cells if c.cell_type != "code"}
        except (FileNotFoundError, KeyError):
            self.release_text = set()
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type in ("markdown", "raw") and (normalized(cell.source) in self.release_text
                                                      or nbgrader_meta(cell).get("locked")):
            return cell, resources
        return super().preprocess_cell(cell, resources, index)
