"""Trial grading: the real nbgrader pipeline on a throw-away copy of the course.

`grade_submissions(exercise, {"student": notebook, ...})` copies the course configuration and the
exercise's source into a temporary course root, generates the assignment, submits each notebook
under its student id, grades them (`dl-course grade`, or the plain `nbgrader autograde`), and returns
every test cell's score. `dl-course mutants` and the benchmark grade this way; so do the tests, whose
own material (wrong solutions, hostile submissions) stays in `tests/`.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from traitlets.config import Config

from course.coursedir import with_tools, write_overrides

from .notebooks import ROOT, SOLUTION_BEGIN, SOLUTION_END, nbgrader_meta


@dataclass
class GradingRun:
    """Scores of one `nbgrader autograde` run: scores[student][grade_id] = (score, max_score)."""

    course_dir: Path
    exercise: str
    scores: dict
    log: str

    def total(self, student):
        """(score, max_score) summed over the test cells of one student's notebook."""
        cells = self.scores[student].values()
        return sum(s for s, _ in cells), sum(m for _, m in cells)

    def autograded_notebook(self, student):
        """The executed notebook that nbgrader wrote for one student."""
        return nbformat.read(self.course_dir / "autograde" / student / self.exercise / f"{self.exercise}.ipynb",
                             as_version=4)

    def failed_checks(self, student, cells=None):
        """{grade_id: verdict} of the test cells (of `cells`, when given) that the student's notebook failed; a
        verdict's "failed_in" says whether a check the student can run caught it ("visible") or a hidden one."""
        from . import records

        verdicts = records.record(self.autograded_notebook(student)).get("verdicts", {})
        return {cell: verdict for cell, verdict in verdicts.items()
                if not verdict.get("passed") and (cells is None or cell in cells)}

    def caught_by(self, student, cells=None):
        """"visible" when a check the student can run in the notebook failed (among `cells`), "hidden" when only
        hidden checks did, None when no test cell failed."""
        failed = self.failed_checks(student, cells)
        if not failed:
            return None
        return "visible" if any(v.get("failed_in") == "visible" for v in failed.values()) else "hidden"


def nbgrader(course_dir, *args, timeout=3600, env=None):
    """Run one nbgrader command in course_dir (with more environment variables `env`); raise with its
    log when it fails."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_dir, capture_output=True,
                          text=True, timeout=timeout, env={**with_tools(), **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def make_course_copy(exercises_to_copy, root=ROOT, target=None):
    """A temporary course root with nbgrader_config.py and source/<exercise> for each exercise."""
    target = Path(target or tempfile.mkdtemp(prefix="course-"))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(root, "nbgrader_config.py"), target)
    for exercise in exercises_to_copy:
        shutil.copytree(Path(root, "source", exercise), target / "source" / exercise,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target


def grade_submissions(exercise, submissions, course_dir=None, root=ROOT, engine=True, workers=None, config=None,
                      stop_after=None, stop_at_first_failure=()):
    """Autograde {student_id: notebook or raw bytes} for one exercise in a fresh course copy; returns a GradingRun.

    engine=True grades through `dl-course grade` (parallel workers); False runs the plain
    `nbgrader autograde` command, one submission after another. `config`: a traitlets Config of
    overrides for the temporary course (its nbgrader_config.json); `stop_after`: {student: [test cell ids]} whose notebooks
    need to run only until those cells are graded; `stop_at_first_failure`: students whose notebooks
    need to run only until a test cell fails (mutants)."""
    from nbgrader.api import Gradebook

    course_dir = make_course_copy([exercise], root=root, target=course_dir)
    overrides = Config(config or {})
    if stop_after:
        overrides.GradingExecute.stop_after_tests = {student: list(cells) for student, cells in stop_after.items()}
    if stop_at_first_failure:
        overrides.GradingExecute.stop_at_first_failed_test_for = sorted(stop_at_first_failure)
    if overrides:
        write_overrides(course_dir, overrides)
    log = nbgrader(course_dir, "generate_assignment", exercise, "--force")
    for student, nb in submissions.items():
        folder = course_dir / "submitted" / student / exercise
        folder.mkdir(parents=True)
        if isinstance(nb, bytes):   # a raw file, as a student may upload it (corrupt, empty ...)
            (folder / f"{exercise}.ipynb").write_bytes(nb)
        else:
            nbformat.write(nb, folder / f"{exercise}.ipynb")
    if engine:
        from .engine import grade

        summary = grade(exercise, course_root=course_dir, force=True, progress=False, workers=workers)
        log += "\n".join(r.log for r in summary.results.values())
        if summary.failed:
            raise RuntimeError(f"grading failed for {sorted(summary.failed)}:\n" + "\n".join(summary.failed.values()))
    else:
        log += nbgrader(course_dir, "autograde", exercise, "--force")
    scores = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for student in submissions:
            submission = gb.find_submission_notebook(exercise, exercise, student)
            scores[student] = {g.name: (g.score, g.max_score) for g in submission.grades}
    return GradingRun(course_dir, exercise, scores, log)


def student_form(source_nb, release_nb):
    """What a student who solved the exercise this way submits: the release notebook with each solution
    cell holding the source's solution (markers dropped); test cells stay as released (no hidden tests)."""
    solutions = {nbgrader_meta(c)["grade_id"]: c.source for c in source_nb.cells if nbgrader_meta(c).get("solution")}
    student = copy.deepcopy(release_nb)
    for cell in student.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and grade_id in solutions:
            cell.source = "\n".join(line for line in solutions[grade_id].splitlines()
                                    if line.strip() not in (SOLUTION_BEGIN, SOLUTION_END))
    return student
