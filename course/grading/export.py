"""`nbgrader export` with a status per student and assignment (`c.ExportApp.plugin_class` in nbgrader_config.py).

nbgrader's CSV export writes 0 for a student who never submitted and the tests' score for a submission held
for review. `StatusCsvExport` writes the same columns plus `tests_score`, `status` and `reason`, by the rules
of `course.grading.grades`; with `--StatusCsvExport.lms=...` it writes the LMS's import file instead
(course.grading.lms).
"""

from __future__ import annotations

import csv

from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins.export import CsvExportPlugin
from traitlets import Enum

from .grades import COLUMNS, grade_rows


class StatusCsvExport(CsvExportPlugin):
    """CSV export with `status` (graded, flagged, rejected, missing); the score empty when missing or held back.
    With `--StatusCsvExport.lms=canvas|moodle|blackboard`, the LMS's import file instead (course.grading.lms)."""

    lms = Enum(["", "canvas", "moodle", "blackboard"], default_value="",
               help="write the grade file this LMS imports instead of grades.csv").tag(config=True)

    def export(self, gradebook):
        if self.lms:
            from .lms import write_grades

            names = self.assignment or [a.name for a in gradebook.assignments]
            outcome = write_grades(gradebook, CourseDirectory(parent=self), self.lms, list(names),
                                   self.to or f"{self.lms}-grades.csv", config=self.config)
            for line in outcome.lines():
                self.log.info(line)
            return
        dest = self.to or "grades.csv"
        self.log.info("Exporting grades with their status to %s", dest)
        with open(dest, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for row in grade_rows(gradebook, CourseDirectory(parent=self), self.assignment or None,
                                  self.student or None):
                writer.writerow(row.csv_row())
