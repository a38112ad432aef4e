"""Stage *verdict*: points from the executor's verdict, never from what a cell printed.

nbgrader's `SaveAutoGrades` reads a test cell's grade from its outputs: an `execute_result` is
partial credit (a string is full marks), any stderr text is zero. `SaveVerdicts` takes the
verdict that `course.grading.execute.GradingExecute` recorded instead: full points if the cell
ran without an exception, zero otherwise, and for a partial-credit test (one that calls
`course.helpers.partial_credit`) the smallest share it awarded from its own code. Solution cells graded by hand, comments and the
`needs_manual_grade` rule are nbgrader's, unchanged. A submission with flags (tampering found by
the executor or by `course.grading.tamper`) is marked *flagged* in the gradebook, which the
formgrader shows, and each flag is logged with its cell.
"""

from __future__ import annotations

from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades

from . import records
from .notebooks import is_test_cell, nbgrader_meta


def verdict_score(cell, verdicts):
    """(score, max_score) of an auto-graded test cell from its verdict (0 when it has none): all its points when
    it passed, the share a partial-credit test awarded (`fraction`, course.helpers.partial_credit), else 0."""
    points = float(nbgrader_meta(cell)["points"])
    verdict = verdicts.get(nbgrader_meta(cell)["grade_id"]) or {}
    if "fraction" in verdict:
        return round(points * min(1.0, max(0.0, float(verdict["fraction"]))), 2), points
    return (points if verdict.get("passed") else 0.0), points


class SaveVerdicts(SaveAutoGrades):
    """SaveAutoGrades with test-cell points from the verdicts in the notebook's grading record."""

    def preprocess(self, nb, resources):
        self._verdicts = records.record(nb).get("verdicts", {})
        nb, resources = super().preprocess(nb, resources)
        self._save_flags(nb, resources)
        return nb, resources

    def _add_score(self, cell, resources):
        if not is_test_cell(cell):
            return super()._add_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata.nbgrader["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        grade.auto_score, _ = verdict_score(cell, self._verdicts)
        grade.needs_manual_grade = grade.manual_score is not None
        self.gradebook.db.commit()

    def _save_flags(self, nb, resources):
        flags = records.entries(nb, "flags")
        rejected = records.record(nb).get("rejected")
        if not flags and not rejected:
            return
        for entry in flags:
            self.log.warning("%s flagged for review: %s", self.student_id, records.describe(entry))
        if rejected:
            self.log.error("%s: submission rejected: %s", self.student_id, rejected)
        with Gradebook(self.db_url) as gradebook:
            submission = gradebook.find_submission_notebook(self.notebook_id, self.assignment_id, self.student_id)
            submission.flagged = True
            gradebook.db.commit()

