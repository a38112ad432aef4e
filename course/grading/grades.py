"""The status of every grade, one rule for every export: a missing submission is not a zero, a flagged one is
not a grade until the instructor clears it.

`grade_rows` gives the rows that `nbgrader export` (course.grading.export), `dl-course export --lms` and
`dl-course return` (course.grading.lms), the Formgrader's review (course.grading.formgrader) and `dl-course
flags` write or show:

- graded: autograded (manual scores and extra credit from the Formgrader included), nothing to review;
- flagged: held for review. `score` is left empty and the tests' score is in `tests_score` until the flag is
  cleared (`dl-course flags EXERCISE --clear STUDENT`, or the flag in the Formgrader's grading view); a
  cleared submission is graded, its reason says what was reviewed;
- rejected: the file could not be graded (the reason is in `reason`), the score is 0;
- missing: nothing submitted, the score is left empty.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry

from .records import GradingRecord

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
           "late_submission_penalty", "score", "tests_score", "max_score", "status", "reason"]


@dataclass(frozen=True)
class GradeRow:
    """One student's grade for one assignment, with the status rules above applied.

    score: the grade to record (None: write nothing, i.e. missing or held back); tests_score: what the
    graded notebook earned after the late penalty, also for a flagged submission; raw_score and penalty as
    nbgrader keeps them (None when nothing was graded)."""

    assignment: str
    student: str
    first_name: str
    last_name: str
    email: str
    lms_user_id: str
    duedate: object
    timestamp: object
    raw_score: float | None
    penalty: float | None
    tests_score: float | None
    max_score: float
    status: str
    reason: str

    @property
    def display_name(self):
        """"Last, First" as nbgrader and the LMS files write names, or the student's id where the roster gave none."""
        if self.last_name and self.first_name:
            return f"{self.last_name}, {self.first_name}"
        return self.last_name or self.first_name or self.student

    @property
    def score(self):
        if self.status in ("missing", "flagged"):
            return None
        return 0.0 if self.status == "rejected" else self.tests_score

    def csv_row(self):
        def cell(value):
            return "" if value is None else value
        return {"assignment": self.assignment, "duedate": cell(self.duedate), "timestamp": cell(self.timestamp),
                "student_id": self.student, "last_name": self.last_name, "first_name": self.first_name,
                "email": self.email, "raw_score": cell(self.raw_score),
                "late_submission_penalty": cell(self.penalty), "score": cell(self.score),
                "tests_score": cell(self.tests_score), "max_score": self.max_score, "status": self.status,
                "reason": self.reason}


def submission_status(coursedir, assignment, student):
    """(status, reason) of one student's assignment from the graded notebooks (before any review)."""
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


def review_status(status, reason, flagged_in_gradebook):
    """The status after review: the gradebook's flag (set by grading, cleared or set by the instructor in the
    Formgrader or with `dl-course flags`) decides whether a graded submission is held back."""
    if status == "rejected":
        return status, reason
    if flagged_in_gradebook:
        return "flagged", reason or "flagged by a grader in the Formgrader"
    if status == "flagged":
        return "graded", f"reviewed, flag cleared: {reason}"
    return status, reason


def grade_rows(gradebook, coursedir, assignments=None, students=None):
    """GradeRow for every (assignment, student) of the gradebook (optionally only the ones named)."""
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        for student in gradebook.students:
            if students and student.id not in students:
                continue
            common = dict(assignment=assignment.name, student=student.id, first_name=student.first_name or "",
                          last_name=student.last_name or "", email=student.email or "",
                          lms_user_id=student.lms_user_id or "", duedate=assignment.duedate,
                          max_score=assignment.max_score)
            try:
                submission = gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:
                status, reason = intake_status(coursedir, assignment.name, student.id) or ("missing", "")
                if status != "rejected":
                    status, reason = "missing", reason or "nothing submitted"
                zero = 0.0 if status == "rejected" else None
                yield GradeRow(**common, timestamp=None, raw_score=zero, penalty=None, tests_score=zero,
                               status=status, reason=reason)
                continue
            penalty = submission.late_submission_penalty or 0.0
            status, reason = submission_status(coursedir, assignment.name, student.id)
            flagged = any(notebook.flagged for notebook in submission.notebooks)
            status, reason = review_status(status, reason, flagged)
            yield GradeRow(**common, timestamp=submission.timestamp, raw_score=submission.score, penalty=penalty,
                           tests_score=max(0.0, submission.score - penalty), status=status, reason=reason)


def flagged_students(gradebook, coursedir, assignment):
    """{student: reason} of the submissions of `assignment` held back for review."""
    return {row.student: row.reason for row in grade_rows(gradebook, coursedir, [assignment])
            if row.status == "flagged"}


def clear_flags(gradebook, assignment, students):
    """Clear the review flag of the named students' notebooks of `assignment` (what the flag in the
    Formgrader's grading view does); returns the students cleared. A student with no graded submission is
    a ValueError naming them."""
    cleared = []
    for student in students:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            raise ValueError(f"{student} has no graded submission of {assignment} to clear") from None
        for notebook in submission.notebooks:
            notebook.flagged = False
        cleared.append(student)
    gradebook.db.commit()
    return cleared
