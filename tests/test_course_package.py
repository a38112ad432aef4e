"""The grading kernel imports the grader's own `course` package, wherever the course root and the installed package are.

A term's copy of the repository (or a second checkout) is a course root with its own `course/`, while the
environment's `course` is installed from another checkout. `nbgrader autograde` in the copy imports the copy's
package; every sandboxed kernel must import that same one (bound and first on its path), and a kernel that
cannot import it stops grading with one line that names both paths instead of giving every student a zero.
"""

import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT
from course import grading
from course.coursedir import with_tools

pytestmark = pytest.mark.grading

EXERCISE = "ex01_numpy_dnn"
MARKER = "this-terms-copy.txt"


def term_copy(target):
    """A course root that is a copy of the repository: configuration, the exercise, and a `course/` of its own."""
    root = grading.make_course_copy([EXERCISE], target=target)
    shutil.copytree(ROOT / "course", root / "course", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "course" / MARKER).write_text("the grader's package\n")
    return root


def autograde(root, solution):
    grading.nbgrader(root, "generate_assignment", EXERCISE, "--force")
    folder = root / "submitted" / "student" / EXERCISE
    folder.mkdir(parents=True)
    nbformat.write(solution, folder / f"{EXERCISE}.ipynb")
    return subprocess.run([sys.executable, "-m", "nbgrader", "autograde", EXERCISE, "--force"], cwd=root,
                          capture_output=True, text=True, timeout=900, env=with_tools())


def test_a_term_copy_of_the_course_grades_with_its_own_package_in_every_kernel(data_dir, tmp_path):
    root = term_copy(tmp_path / "term")
    assert root.resolve() != ROOT.resolve()
    solution = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    solution.cells.insert(2, nbformat.v4.new_code_cell(
        "import os, course\nprint('kernel package is the grader copy:', "
        f"os.path.exists(os.path.join(os.path.dirname(course.__file__), {MARKER!r})))"))
    proc = autograde(root, solution)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(EXERCISE, EXERCISE, "student")
        assert (submission.score, submission.flagged) == (submission.max_score, False), proc.stdout + proc.stderr
    graded = nbformat.read(root / "autograde" / "student" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in graded.cells[2].outputs)
    assert "kernel package is the grader copy: True" in printed, printed


def test_a_kernel_that_cannot_import_the_graders_package_stops_grading_with_both_paths(data_dir, tmp_path):
    root = term_copy(tmp_path / "broken")
    (root / "course" / "grading" / "guard.py").unlink()   # the kernel-side module the grader itself never imports
    proc = autograde(root, nbformat.read(grading.notebook_path(EXERCISE), as_version=4))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [line for line in output.splitlines() if "Grading stopped: the grading kernel does not import" in line]
    assert lines, output[-3000:]
    assert str((root / "course").resolve()) in lines[0] and "/opt/dl-course/course" in lines[0], lines[0]
    assert "please report it" not in output
