"""`nbgrader export` with a status per student and assignment: a missing submission is not a zero.

nbgrader's CSV export writes 0 for a student who never submitted. `StatusCsvExport`
(`c.ExportApp.plugin_class` in nbgrader_config.py) writes the same columns plus `status`:

- graded: autograded, nothing to review;
- flagged: autograded, and flagged for review (tampering found; see the grading report);
- rejected: the file could not be graded (the reason is in `reason`), the score is 0;
- missing: nothing submitted, the score is left empty.
"""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins.export import CsvExportPlugin

from .records import GradingRecord

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
           "late_submission_penalty", "score", "max_score", "status", "reason"]


def submission_status(coursedir, assignment, student):
    """(status, reason) of one student's assignment, from the graded notebooks and the intake report."""
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    parts = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            parts.append(GradingRecord.load(nbformat.read(path, as_version=4)))
        except Exception as error:   # noqa: BLE001 - an unreadable graded notebook is worth a look
            return "flagged", f"graded notebook unreadable: {error}"
    record = GradingRecord.combined(parts)
    return record.status, record.reason


def intake_status(coursedir, assignment, student):
    """The intake report's (status, detail) for a student, or None."""
    path = Path(coursedir.root, "reports", assignment, "intake.csv")
    if not path.is_file():
        return None
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["student"] == student:
                return row["status"], row["detail"]
    return None


class StatusCsvExport(CsvExportPlugin):
    """CSV export with `status` (graded, flagged, rejected, missing) and an empty score when missing."""

    def export(self, gradebook):
        dest = self.to or "grades.csv"
        coursedir = CourseDirectory(parent=self)
        self.log.info("Exporting grades with their status to %s", dest)
        with open(dest, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for assignment in gradebook.assignments:
                if self.assignment and assignment.name not in self.assignment:
                    continue
                for student in gradebook.students:
                    if self.student and student.id not in self.student:
                        continue
                    row = {"assignment": assignment.name, "duedate": assignment.duedate or "",
                           "student_id": student.id, "last_name": student.last_name or "",
                           "first_name": student.first_name or "", "email": student.email or "",
                           "max_score": assignment.max_score}
                    try:
                        submission = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        status, reason = intake_status(coursedir, assignment.name, student.id) or ("missing", "")
                        if status != "rejected":
                            status, reason = "missing", reason or "nothing submitted"
                        score = 0.0 if status == "rejected" else ""
                        row.update(timestamp="", raw_score=score, late_submission_penalty="", score=score,
                                   status=status, reason=reason)
                    else:
                        penalty = submission.late_submission_penalty or 0.0
                        status, reason = submission_status(coursedir, assignment.name, student.id)
                        row.update(timestamp=submission.timestamp or "", raw_score=submission.score,
                                   late_submission_penalty=penalty, score=max(0.0, submission.score - penalty),
                                   status=status, reason=reason)
                    writer.writerow(row)
