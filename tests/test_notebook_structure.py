"""Every notebook in source/ follows the course conventions and carries valid nbgrader metadata."""

import re
import shutil

import nbformat
import pytest
import yaml

from conftest import EXERCISES, ROOT
from course import grading
from course.grading.release import BADGE, INSTALL
from submissions import apply_wrong_solution, load_wrong_solutions

PART = re.compile(r"^## Part \d+ — .+ \((\d+) points?\)\s*$", re.M)
TOTAL = re.compile(r"\*\*Points:\*\*\s*(\d+)")


def load(exercise):
    return nbformat.read(grading.notebook_path(exercise), as_version=4)


@pytest.fixture(params=EXERCISES)
def notebook(request):
    return request.param, load(request.param)


def test_there_are_exercises():
    assert "ex01_numpy_dnn" in EXERCISES


def test_notebook_is_valid_nbformat_with_a_python_kernel(notebook):
    _, nb = notebook
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def course_python():
    """The course's Python, major.minor: environment.yml's `python=3.11`."""
    pins = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    return next(p.split("=", 1)[1] for p in pins if isinstance(p, str) and p.startswith("python="))


@pytest.mark.parametrize("kind", ["source", "release"])
@pytest.mark.parametrize("exercise", EXERCISES)
def test_notebook_carries_the_language_info_and_kernelspec_jupyterlab_writes(exercise, kind):
    """What ipykernel reports, so that JupyterLab, which writes the kernel's `language_info` and kernelspec into
    a notebook as its kernel starts, finds nothing to change: a notebook opened and closed unchanged is not
    modified (tests/test_browser_notebooks.py). Every key and value is the kernel's, except that `version` is
    compared only as the course's Python (environment.yml, 3.11): the notebooks record the full version of the
    Python they were stamped with (3.11.7, the development and CI one). On another Python, patch releases
    included, JupyterLab puts that kernel's version in, the notebook opens modified, and saving it changes that
    line alone; these tests still pass there (the browser test skips, naming both versions)."""
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    metadata = nbformat.read(grading.notebook_path(exercise, kind), as_version=4).metadata
    reported = {**IPythonKernel.language_info}   # the language_info of ipykernel's kernel_info_reply
    stored = dict(metadata.get("language_info", {}))
    assert stored.keys() == reported.keys(), f"{kind}/{exercise}: language_info keys {sorted(stored)}"
    assert {k: v for k, v in stored.items() if k != "version"} == {
        k: v for k, v in reported.items() if k != "version"}, f"{kind}/{exercise}: language_info differs from ipykernel's"
    assert re.fullmatch(rf"{re.escape(course_python())}\.\d+", stored["version"]), (
        f"{kind}/{exercise}: language_info.version {stored['version']!r} is not a Python {course_python()} release")
    spec = get_kernel_dict()
    assert dict(metadata.get("kernelspec", {})) == {"display_name": spec["display_name"], "language": spec["language"],
                                                  "name": KERNEL_NAME}, f"{kind}/{exercise}: kernelspec"


def test_nbgrader_validate_leaves_a_source_notebook_byte_for_byte_unchanged(tmp_path):
    exercise = "ex01_numpy_dnn"   # NumPy only: validated in seconds
    course_dir = grading.make_course_copy([exercise], target=tmp_path / "course")
    path = grading.notebook_path(exercise, root=course_dir)
    before = path.read_bytes()
    assert before == grading.notebook_path(exercise).read_bytes()
    output = grading.nbgrader(course_dir, "validate", str(path.relative_to(course_dir)))
    assert "Success! Your notebook passes all the tests." in output, output
    assert path.read_bytes() == before, "nbgrader validate rewrote the notebook"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "nbgrader validate left files beside it"
    shutil.rmtree(course_dir, ignore_errors=True)


def test_no_outputs_or_execution_counts_are_stored(notebook):
    _, nb = notebook
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"cell {i} stores outputs"


def test_nbgrader_metadata_is_valid_and_grade_ids_are_unique(notebook):
    _, nb = notebook
    ids = []
    for i, cell in enumerate(nb.cells):
        meta = grading.nbgrader_meta(cell)
        if not meta:
            continue
        assert meta.get("schema_version") == 3, f"cell {i}: nbgrader schema_version 3"
        assert re.fullmatch(r"[A-Za-z0-9_-]+", meta.get("grade_id", "")), f"cell {i}: bad grade_id"
        ids.append(meta["grade_id"])
        if meta.get("solution"):
            assert cell.cell_type == "code" and not meta.get("grade"), f"cell {i}: solution cells are ungraded code"
            assert grading.SOLUTION_BEGIN in cell.source and grading.SOLUTION_END in cell.source, f"cell {i}"
        if meta.get("grade"):
            assert meta.get("points", 0) > 0 and meta.get("locked"), f"cell {i}: graded cells have points and are locked"
        if grading.HIDDEN_BEGIN in cell.source:
            assert meta.get("grade") and cell.source.count(grading.HIDDEN_BEGIN) == cell.source.count(grading.HIDDEN_END)
    assert len(ids) == len(set(ids)), f"duplicate grade ids: {sorted(i for i in ids if ids.count(i) > 1)}"


def test_markers_stand_only_in_cells_nbgrader_processes(notebook):
    _, nb = notebook
    for i, cell in enumerate(nb.cells):
        meta = grading.nbgrader_meta(cell)
        if grading.SOLUTION_BEGIN in cell.source:
            assert meta.get("solution"), f"cell {i} has solution markers but is not a solution cell"
        if grading.HIDDEN_BEGIN in cell.source:
            assert meta.get("grade"), f"cell {i} has hidden tests but is not a graded cell"


def test_points_in_headings_match_the_test_cells(notebook):
    exercise, nb = notebook
    parts, current = [], None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (match := PART.search(cell.source)):
            current = [int(match.group(1)), 0]
            parts.append(current)
        meta = grading.nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            assert current is not None, f"{exercise}: a test cell stands before the first '## Part N — title (P points)'"
            current[1] += meta["points"]
    assert parts, f"{exercise}: no '## Part N — title (P points)' headings"
    for number, (stated, counted) in enumerate(parts, 1):
        assert stated == counted, f"{exercise} Part {number}: heading says {stated} points, test cells give {counted}"
    total = TOTAL.search(nb.cells[0].source)
    assert total and int(total.group(1)) == sum(p for p, _ in parts), f"{exercise}: title points != sum of parts"


def test_title_has_the_colab_badge_for_this_release_notebook(notebook):
    exercise, nb = notebook
    title = nb.cells[0].source
    assert title.startswith(f"# Exercise {int(exercise[2:4])} — ")
    badge = BADGE.search(title)   # any repository and branch: the release writes the configured ones (test_colab_links)
    assert badge and badge["path"] == f"release/{exercise}/{exercise}.ipynb", "a Colab badge opening this release notebook"


def test_setup_cell_installs_the_helpers_from_this_repository_when_missing(notebook):
    _, nb = notebook
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(rf'%pip install -q "{INSTALL.pattern}"', setup), "the course from its repository, by git"


def test_setup_cell_seeds_reports_the_environment_and_has_a_full_run_switch(notebook):
    _, nb = notebook
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    for needle in ("from course import helpers", "helpers.set_seed(", "helpers.environment_report()", "FULL_RUN = False"):
        assert needle in setup, f"setup cell lacks {needle!r}"
    if "import keras" in setup:
        assert setup.index("helpers.quiet_tensorflow()") < setup.index("import keras"), "quiet TensorFlow before Keras"
    assert "tf.keras" not in "\n".join(c.source for c in nb.cells), "Keras 3 API only"


def test_test_cells_say_what_they_check_and_solutions_are_documented(notebook):
    _, nb = notebook
    for cell in nb.cells:
        meta = grading.nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            assert re.match(r'"""Check .+"""', cell.source), f"{meta['grade_id']}: first line '\"\"\"Check ...\"\"\"'"
        if meta.get("solution"):
            assert re.search(r"def \w+\(.*\):\n\s+\"\"\"", cell.source), f"{meta['grade_id']}: documented functions"


def test_every_assert_in_a_test_cell_says_what_it_checks(notebook):
    """A failing check must tell the student something: no bare `assert` in any test cell, visible or hidden
    (the course's checks use helpers.expect_close / expect_equal / expect_shape, or assert with a message)."""
    import ast

    _, nb = notebook
    bare = []
    for cell in nb.cells:
        meta = grading.nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Assert) and node.msg is None:
                    bare.append(f"{meta['grade_id']} line {node.lineno}: {ast.unparse(node)[:80]}")
    assert not bare, bare


def test_closing_cell_reports_the_final_metric(notebook):
    _, nb = notebook
    assert any("FINAL_METRIC = (" in c.source for c in nb.cells if c.cell_type == "code")


def test_every_exercise_has_at_least_three_wrong_solutions(notebook):
    exercise, nb = notebook
    wrongs = load_wrong_solutions(exercise)
    assert len(wrongs) >= 3, f"{exercise}: tests/wrong_solutions/{exercise}.py needs at least 3 wrong solutions"
    graded = grading.graded_cells(nb)
    for wrong in wrongs:
        apply_wrong_solution(nb, wrong)  # raises unless "old" occurs once in that solution cell
        assert wrong["loses"] and set(wrong["loses"]) <= set(graded), f"{wrong['name']}: unknown test cells"


def test_every_temporary_folder_a_notebook_makes_is_removed_when_its_kernel_stops(notebook):
    """A run leaves nothing in the system's temporary directory: each mkdtemp is registered for removal."""
    _, nb = notebook
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    for name in re.findall(r"^\s*(\w+)\s*=.*tempfile\.mkdtemp\(", source, flags=re.MULTILINE):
        assert re.search(rf"atexit\.register\(shutil\.rmtree,\s*{name}\b", source), (
            f"{name} = tempfile.mkdtemp(...) is never removed: add atexit.register(shutil.rmtree, {name}, "
            "ignore_errors=True)")
