"""The temporary-course runner: the nbgrader pipeline on a throw-away copy of the course (used by the tests and instructors).

`grade_submissions(exercise, {"student": notebook, ...})` copies the course configuration and the
exercise's source into a temporary course root, generates the assignment, submits each notebook
under its student id, runs the real `nbgrader autograde`, and returns every test cell's score.
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

from .notebooks import ROOT, SOLUTION_BEGIN, SOLUTION_END, exercises, nbgrader_meta, notebook_path

def apply_wrong_solution(nb, wrong):
    """A copy of notebook `nb` with `wrong["old"]` replaced by `wrong["new"]` in solution cell `wrong["cell"]`."""
    cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == wrong["cell"]]
    if len(cells) != 1 or not nbgrader_meta(cells[0]).get("solution"):
        raise ValueError(f"{wrong['name']!r}: no solution cell with grade_id {wrong['cell']!r}")
    count = cells[0].source.count(wrong["old"])
    if count != 1:
        raise ValueError(f"{wrong['name']!r}: {wrong['old']!r} occurs {count} times in cell {wrong['cell']!r}, expected once")
    changed = copy.deepcopy(nb)
    for cell in changed.cells:
        if nbgrader_meta(cell).get("grade_id") == wrong["cell"]:
            cell.source = cell.source.replace(wrong["old"], wrong["new"])
    return changed


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


def generate_feedback(run, student):
    """Run `nbgrader generate_feedback` for one student of a GradingRun; returns the HTML text."""
    nbgrader(run.course_dir, "generate_feedback", run.exercise, "--student", student, "--force")
    return (run.course_dir / "feedback" / student / run.exercise / f"{run.exercise}.html").read_text()


def load_wrong_solutions(exercise, root=ROOT):
    """The WRONG_SOLUTIONS list of tests/wrong_solutions/<exercise>.py ([] when the file is missing)."""
    path = Path(root, "tests", "wrong_solutions", f"{exercise}.py")
    if not path.is_file():
        return []
    namespace = {"__file__": str(path)}   # a file may read its neighbours (lying_results.py)
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["WRONG_SOLUTIONS"]


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


def standard_submissions(exercise, root=ROOT):
    """{student_id: notebook}: "solution" (source), "stub" (release) and "wrong<i>" for each known wrong solution."""
    source = nbformat.read(notebook_path(exercise, root=root), as_version=4)
    submissions = {"solution": source, "stub": nbformat.read(notebook_path(exercise, "release", root=root), as_version=4)}
    for i, wrong in enumerate(load_wrong_solutions(exercise, root=root)):
        submissions[f"wrong{i}"] = apply_wrong_solution(source, wrong)
    return submissions


def stderr_outputs(nb):
    """Text of every stderr stream output in an executed notebook, as (cell index, text) pairs."""
    return [(i, o.get("text", "")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def main(argv=None):
    """`python -m course.grading EXERCISE`: autograde source, release and wrong solutions; print a score table."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("exercise", nargs="*", help="exercise folder names (default: all in source/)")
    args = parser.parse_args(argv)
    for exercise in args.exercise or exercises():
        wrongs = load_wrong_solutions(exercise)
        submissions = standard_submissions(exercise)
        run = grade_submissions(exercise, submissions)
        print(f"\n{exercise}")
        for student in submissions:
            score, maximum = run.total(student)
            label = wrongs[int(student[5:])]["name"] if student.startswith("wrong") else student
            print(f"  {score:5.1f} / {maximum:<5.1f} {label}")
        shutil.rmtree(run.course_dir, ignore_errors=True)
    return 0


