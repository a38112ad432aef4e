"""Partial credit that only tests can give: `helpers.partial_credit` in an instructor's test cell.

A small assignment of its own (three functions; one test cell worth 3 points that gives a point per function
through partial credit, one plain test cell worth 1), graded by the real `nbgrader autograde` with the course's
configuration, once by the trusted checker (the default for any exercise) and once with its tests in the student's
kernel under the guard (`GradingExecute.in_kernel_exercises`). Honest partial work earns its share; student code
that claims credit itself gains nothing and is flagged; a partial-credit test that never reaches its award scores
zero.
"""

import shutil

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import ROOT
from course import grading
from course.coursedir import write_overrides
from course.grading import records

pytestmark = pytest.mark.grading

EXERCISE = "partial_demo"
SOLUTION = '''def square(x):
    """x squared."""
    ### BEGIN SOLUTION
    return x * x
    ### END SOLUTION

def cube(x):
    """x cubed."""
    ### BEGIN SOLUTION
    return x ** 3
    ### END SOLUTION

def negate(x):
    """minus x."""
    ### BEGIN SOLUTION
    return -x
    ### END SOLUTION
'''
PARTIAL_TEST = '''"""Check square, cube and negate: a point for each (partial credit)."""
passed = 0
for function, x, expected in [(square, 3, 9), (cube, 2, 8), (negate, 5, -5)]:
    try:
        passed += helpers.plain(function(x)) == expected
    except Exception as error:
        print(f"{function.__name__}({x}) failed: {error!r}")
helpers.partial_credit(passed, 3)
'''
PLAIN_TEST = '"""Check square on another value."""\nassert helpers.plain(square(4)) == 16\n'
WRONG_CUBE = SOLUTION.replace("return x ** 3", "return x ** 2")


def _meta(grade_id, **kw):
    meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": False,
            "task": False}
    meta.update(kw)
    return {"nbgrader": meta}


def source_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Partial credit demo (4 points)"),
        nbformat.v4.new_code_cell("from course import helpers", metadata=_meta("setup", locked=True)),
        nbformat.v4.new_code_cell(SOLUTION, metadata=_meta("functions", solution=True)),
        nbformat.v4.new_code_cell(PARTIAL_TEST, metadata=_meta("test_three_functions", grade=True, locked=True,
                                                                points=3)),
        nbformat.v4.new_code_cell(PLAIN_TEST, metadata=_meta("test_square", grade=True, locked=True, points=1)),
    ]
    return nb


def with_functions(nb, code):
    nb = nbformat.from_dict(nb)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "functions").source = code
    return nb


# Student code that claims the cell's partial credit itself, from inside a function the test calls.
CLAIMS_IN_FUNCTION = WRONG_CUBE.replace('    """x squared."""', '    """x squared."""\n    helpers.partial_credit(3, 3)')
# ... from code compiled under the test cell's own file name (read off the caller's frame).
CLAIMS_AS_THE_CELL = WRONG_CUBE.replace('    """x squared."""', '''    """x squared."""
    import sys
    frame = sys._getframe(1)
    exec(compile("helpers.partial_credit(3, 3)", frame.f_code.co_filename, "exec"), frame.f_globals)''')
# ... by appending to the guard's record and replacing its award function so the test's own award is lost.
GUARD_REWRITTEN = WRONG_CUBE.replace('    """x squared."""', '''    """x squared."""
    import course.grading.guard as guard
    guard._state.awards.append(1.0)
    guard.award = lambda fraction: True''')
# ... at the top level of a solution cell, where no test runs.
CLAIMS_AT_TOP_LEVEL = WRONG_CUBE + "\nhelpers.partial_credit(3, 3)\n"


# ... from an IPython callback disguised as a library's, compiled under the name of the cell that runs next.
CLAIMS_BEFORE_THE_CELL = WRONG_CUBE + '''
def _claim(*args):
    ip = get_ipython()
    name = ip.compile.get_code_name(args[0].raw_cell if args and hasattr(args[0], "raw_cell") else "", None, 0)
    exec(compile("helpers.partial_credit(3, 3)", name, "exec"), ip.user_ns)
_claim.__module__ = "matplotlib_inline.backend_inline"
get_ipython().events.register("pre_run_cell", _claim)
'''


@pytest.fixture(scope="module", params=["checker", "guard"])
def graded(request, data_dir, tmp_path_factory):
    """{student: ({grade_id: score}, flagged, verdicts)} of the demo assignment, graded by the checker or by the
    guard in the student's kernel."""
    root = tmp_path_factory.mktemp("partial")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    if request.param == "guard":
        write_overrides(root, {"GradingExecute": {"in_kernel_exercises": [EXERCISE]}})
    source = source_notebook()
    (root / "source" / EXERCISE).mkdir(parents=True)
    nbformat.write(source, root / "source" / EXERCISE / f"{EXERCISE}.ipynb")
    grading.nbgrader(root, "generate_assignment", EXERCISE, "--force")
    release = nbformat.read(root / "release" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    students = {
        "solution": source, "stub": release, "two_of_three": with_functions(source, WRONG_CUBE),
        "claims_in_function": with_functions(source, CLAIMS_IN_FUNCTION),
        "claims_as_the_cell": with_functions(source, CLAIMS_AS_THE_CELL),
        "guard_rewritten": with_functions(source, GUARD_REWRITTEN),
        "claims_at_top_level": with_functions(source, CLAIMS_AT_TOP_LEVEL),
        "claims_before_the_cell": with_functions(source, CLAIMS_BEFORE_THE_CELL),
    }
    for student, nb in students.items():
        folder = root / "submitted" / student / EXERCISE
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{EXERCISE}.ipynb")
    grading.nbgrader(root, "autograde", EXERCISE, "--force")
    results = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in students:
            submission = gb.find_submission_notebook(EXERCISE, EXERCISE, student)
            nb = nbformat.read(root / "autograde" / student / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
            results[student] = ({g.name: g.score for g in submission.grades}, submission.flagged,
                                records.record(nb)["verdicts"])
    yield results
    shutil.rmtree(root, ignore_errors=True)


def test_a_partial_credit_test_gives_its_share_and_full_work_keeps_full_marks(graded):
    assert graded["solution"][0] == {"test_three_functions": 3.0, "test_square": 1.0}
    assert graded["two_of_three"][0] == {"test_three_functions": 2.0, "test_square": 1.0}
    assert not graded["two_of_three"][1] and not graded["solution"][1]
    assert "partial credit: 67%" in graded["two_of_three"][2]["test_three_functions"]["reason"]


def test_the_unsolved_release_earns_nothing_from_a_partial_credit_test(graded):
    assert graded["stub"][0] == {"test_three_functions": 0.0, "test_square": 0.0}


@pytest.mark.parametrize("student", ["claims_in_function", "claims_as_the_cell", "guard_rewritten",
                                     "claims_before_the_cell"])
def test_student_code_that_claims_partial_credit_gains_nothing_and_is_flagged(graded, student):
    scores, flagged, verdicts = graded[student]
    assert scores["test_three_functions"] <= graded["two_of_three"][0]["test_three_functions"], (student, verdicts)
    assert flagged, f"{student} must be flagged: {verdicts}"


def test_a_claim_where_no_test_runs_is_ignored(graded):
    assert graded["claims_at_top_level"][0] == graded["two_of_three"][0]
