"""release/ is exactly what `nbgrader generate_assignment` makes from source/ now, and leaks nothing."""

import filecmp
import shutil

import nbformat
import pytest

from conftest import EXERCISES, ROOT
from course import grading


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    course_dir = grading.make_course_copy(EXERCISES, target=tmp_path_factory.mktemp("release"))
    grading.nbgrader(course_dir, "generate_assignment", "*", "--force")   # every exercise, one nbgrader start-up
    yield course_dir / "release"
    shutil.rmtree(course_dir, ignore_errors=True)


def test_release_has_one_folder_per_source_exercise():
    assert sorted(p.name for p in (ROOT / "release").iterdir() if p.is_dir()) == EXERCISES


@pytest.mark.parametrize("exercise", EXERCISES)
def test_release_is_up_to_date_with_source(exercise, generated):
    committed, fresh = ROOT / "release" / exercise, generated / exercise
    comparison = filecmp.dircmp(committed, fresh, ignore=[".ipynb_checkpoints", "__pycache__"])
    assert not comparison.left_only and not comparison.right_only, "release/ and source/ hold different files"
    for name in comparison.common_files:
        if name.endswith(".ipynb"):
            assert nbformat.read(committed / name, as_version=4) == nbformat.read(fresh / name, as_version=4), (
                f"release/{exercise}/{name} is stale: run `nbgrader generate_assignment {exercise} --force`")
        else:
            assert filecmp.cmp(committed / name, fresh / name, shallow=False), f"release/{exercise}/{name} differs"


@pytest.mark.parametrize("exercise", EXERCISES)
def test_release_contains_no_solution_or_hidden_test_text(exercise):
    raw = grading.notebook_path(exercise, "release").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in raw, f"release/{exercise} contains {marker!r}"
    release_lines = {line.strip() for cell in nbformat.read(grading.notebook_path(exercise, "release"), as_version=4).cells
                     for line in cell.source.splitlines()}
    leaked = grading.secret_lines(nbformat.read(grading.notebook_path(exercise), as_version=4)) & release_lines
    assert not leaked, f"release/{exercise} shows solution or hidden-test lines: {sorted(leaked)[:5]}"
