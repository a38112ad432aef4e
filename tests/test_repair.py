"""The metadata repair on reorganized notebooks, run in-process on a generated assignment (no kernel).

A restored stub must never shadow a definition the student made: the repaired notebook defines every
function of the exercise exactly where the student's code does, and holds each release cell once.
(Whether the grades come out the same is checked by grading the layouts: tests/test_grading.py.)
"""

import shutil

import nbformat
import pytest
from traitlets.config import Config

from course import grading
from course.grading import records
from course.grading.trial import student_form
from course.grading.notebooks import nbgrader_meta
from course.grading.repair import RepairMetadata, bound_names, defined_names, without_definitions
from layouts import LAYOUTS

EXERCISE = "ex01_numpy_dnn"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = grading.make_course_copy([EXERCISE], target=tmp_path_factory.mktemp("repair"))
    grading.nbgrader(root, "generate_assignment", EXERCISE, "--force")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def repair(course, nb):
    config = Config()
    config.CourseDirectory.root = str(course)
    resources = {"nbgrader": {"assignment": EXERCISE, "notebook": EXERCISE, "student": "s",
                              "db_url": f"sqlite:///{course / 'gradebook.db'}"}}
    nb, _ = RepairMetadata(config=config).preprocess(nbformat.from_dict(nb), resources)
    return nb


def definitions(nb):
    """{function name: [indices of the code cells that define it]}."""
    found = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for name in defined_names(cell.source):
                found.setdefault(name, []).append(i)
    return found


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_reorganized_notebook_keeps_every_definition_of_the_student_and_no_stub_shadows_one(course, layout):
    release = nbformat.read(course / "release" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    student = LAYOUTS[layout](student_form(nbformat.read(grading.notebook_path(EXERCISE), as_version=4),
                                                   release))
    repaired = repair(course, student)
    defined = definitions(repaired)
    shadowed = {name: cells for name, cells in defined.items() if len(cells) > 1}
    assert not shadowed, f"{layout}: functions defined twice after repair (a stub shadows the student's): {shadowed}"
    assert set(defined) == set(definitions(student)), layout
    for cells in defined.values():
        assert "NotImplementedError" not in repaired.cells[cells[0]].source, layout
    release_ids = [nbgrader_meta(c)["grade_id"] for c in release.cells if nbgrader_meta(c).get("grade_id")]
    repaired_ids = [nbgrader_meta(c)["grade_id"] for c in repaired.cells if nbgrader_meta(c).get("grade_id")]
    assert sorted(repaired_ids) == sorted(release_ids), f"{layout}: each release cell once"


def test_a_deleted_solution_cell_whose_functions_nobody_defines_comes_back_as_its_stub(course):
    release = nbformat.read(course / "release" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    student = nbformat.from_dict(release)
    student.cells = [c for c in student.cells if nbgrader_meta(c).get("grade_id") != "backward"]
    repaired = repair(course, student)
    restored = [c for c in repaired.cells if nbgrader_meta(c).get("grade_id") == "backward"]
    assert len(restored) == 1 and "def backward" in restored[0].source
    assert "NotImplementedError" in restored[0].source
    assert any("'backward' was missing" in e["what"] for e in records.entries(repaired, "repairs"))


def test_a_restored_stub_keeps_only_the_functions_that_the_notebook_does_not_define(course):
    """The activations cell (sigmoid, relu) deleted, sigmoid written in the init_params cell: relu's stub comes back."""
    release = nbformat.read(course / "release" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    student = nbformat.from_dict(release)
    student.cells = [c for c in student.cells if nbgrader_meta(c).get("grade_id") != "activations"]
    init = next(c for c in student.cells if nbgrader_meta(c).get("grade_id") == "init_params")
    init.source = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n\n" + init.source
    repaired = repair(course, student)
    restored = next(c for c in repaired.cells if nbgrader_meta(c).get("grade_id") == "activations")
    assert defined_names(restored.source) == {"relu"}
    assert "defined elsewhere" in restored.source
    assert len(definitions(repaired)["sigmoid"]) == 1


def test_bound_names_sees_functions_classes_assignments_and_imports_but_not_locals():
    source = ("import numpy as np\nfrom math import exp as e\ndef f(x):\n    y = 1\nclass C: pass\n"
              "g = lambda z: z\nif True:\n    h = 2\nfor k in range(2): pass\n%time f(1)\n")
    assert bound_names(source) == {"np", "e", "f", "C", "g", "h", "k"}


def test_without_definitions_removes_decorated_functions_whole():
    source = "import functools\n\n@functools.cache\ndef a():\n    return 1\n\ndef b():\n    return 2\n"
    assert without_definitions(source, {"a"}) == "import functools\n\n\ndef b():\n    return 2"
