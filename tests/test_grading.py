"""End to end through nbgrader, for every exercise in source/, in a temporary copy of the course.

One graded batch per exercise (the parallel engine) grades: the source notebook (must earn full
marks), the release notebook (must earn zero on every auto-graded cell), each plausible wrong
solution of tests/wrong_solutions/<exercise>.py (each must lose points on the test cells it names)
and the CI sample of machine-made mutants (`dl-course mutants`: at the CI size and seed, the first
mutants of the benchmark's larger draw, at least 95 % of those not acknowledged as equivalent in
tests/equivalent_mutants/ must lose points). One batch, so that the course copy, the generated
assignment and the worker pool are paid once per exercise.
"""

import ast
import html
import re
import shutil

import nbformat
import pytest

from conftest import EXERCISES, ROOT
from course import grading
from course.grading import mutants, records
from course.grading.notebooks import nbgrader_meta
from submissions import generate_feedback, load_wrong_solutions, standard_submissions, stderr_outputs
from layouts import LAYOUTS

pytestmark = pytest.mark.grading

# Reorganized notebooks graded in the batch (tests/layouts.py): (layout, base) with base "solution" or a
# wrong solution "wrong<i>"; each must score what its base scores (Exercise 1's are in the hostile batch too).
LAYOUT_CASES = {
    "ex01_numpy_dnn": [("all_in_first_cell", "wrong0"), ("functions_moved_up", "wrong2")],
    "ex03_cnn_mnist": [("all_in_first_cell_others_deleted", "solution"), ("functions_moved_up", "wrong0")],
    "ex07_one_hot": [("split_with_helpers", "solution"), ("all_in_first_cell", "wrong0")],
}


def layout_student(layout, base):
    return f"layout_{layout}_{base}"

@pytest.fixture(scope="module", params=EXERCISES)
def graded_batch(request, data_dir, tmp_path_factory):
    """(GradingRun, graded mutants, acknowledged mutants) of one exercise: students 'solution', 'stub',
    'wrong<i>' (each wrong solution runs until the test cells it must lose on are graded) and
    'mutant_<id>' (each until its first failed test cell), through the parallel engine."""
    exercise = request.param
    wrongs = load_wrong_solutions(exercise)
    graded_mutants, acknowledged = mutants.select(exercise, count=mutants.CI_COUNT, seed=mutants.SEED)
    mutant_students = mutants.submissions(graded_mutants)
    standard = standard_submissions(exercise)
    stop_after = {f"wrong{i}": w["loses"] for i, w in enumerate(wrongs)}
    layouts = {layout_student(layout, base): LAYOUTS[layout](standard[base]) for layout, base in LAYOUT_CASES.get(exercise, [])}
    stop_after.update({layout_student(layout, base): stop_after[base] for layout, base in LAYOUT_CASES.get(exercise, [])
                       if base in stop_after})
    run = grading.grade_submissions(exercise, {**standard, **layouts, **mutant_students},
                                    course_dir=tmp_path_factory.mktemp(exercise), stop_after=stop_after,
                                    stop_at_first_failure=list(mutant_students))
    yield run, graded_mutants, acknowledged
    shutil.rmtree(run.course_dir, ignore_errors=True)


@pytest.fixture
def graded(graded_batch):
    """The GradingRun of one exercise's batch."""
    return graded_batch[0]


def test_solution_earns_full_marks(graded):
    lost = {cell: score for cell, score in graded.scores["solution"].items() if score[0] != score[1]}
    assert not lost, f"{graded.exercise}: the solution lost points on {lost}"
    assert graded.total("solution")[0] > 0


def test_the_solution_is_not_flagged(graded):
    """Honest work is never held for review: nothing the solution or its libraries do looks like tampering."""
    flags = records.entries(graded.autograded_notebook("solution"), "flags")
    assert not flags, f"{graded.exercise}: the solution was flagged: {flags}"


def test_release_stub_earns_zero_on_every_autograded_cell(graded):
    earned = {cell: score for cell, score in graded.scores["stub"].items() if score[0] != 0}
    assert not earned, f"{graded.exercise}: the unsolved release earns points on {earned}"
    assert set(graded.scores["stub"]) == set(graded.scores["solution"])


def test_each_wrong_solution_loses_points_where_expected(graded):
    """Each named test cell ran and failed (not merely left unrun) for its wrong solution."""
    for i, wrong in enumerate(load_wrong_solutions(graded.exercise)):
        scores = graded.scores[f"wrong{i}"]
        kept = [cell for cell in wrong["loses"] if scores[cell][0] >= scores[cell][1]]
        assert not kept, f"{graded.exercise}: wrong solution {wrong['name']!r} kept full marks on {kept}"
        verdicts = records.record(graded.autograded_notebook(f"wrong{i}"))["verdicts"]
        unrun = [cell for cell in wrong["loses"] if verdicts[cell]["reason"].startswith("not run")]
        assert not unrun, f"{graded.exercise}: {wrong['name']!r} never ran {unrun}"
        assert graded.total(f"wrong{i}")[0] < graded.total("solution")[0]


def hidden_only_wrong_solutions(exercise):
    """{name: reason} of the exercise's wrong solutions that docs/hidden-tests.md lists as caught by hidden checks
    alone (its table "Wrong solutions that only hidden checks catch")."""
    text = (ROOT / "docs" / "hidden-tests.md").read_text()
    table = text.split("## Wrong solutions that only hidden checks catch", 1)[1].split("\n## ", 1)[0]
    rows = [[part.strip() for part in line.strip().strip("|").split("|")] for line in table.splitlines()
            if line.startswith("| ex")]
    return {name: reason for name_of_exercise, name, reason in rows if name_of_exercise == exercise}


def defined_functions(source):
    return {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}


def test_each_wrong_solution_fails_a_check_the_student_can_run_and_learns_what_was_expected(graded):
    """Each wrong solution fails a visible check (one the student can run in the notebook before submitting)
    whose message names the function and says what was expected and what came back, or an error of the
    student's own code stops that check; or docs/hidden-tests.md lists it as caught by hidden checks alone,
    with the reason. The list in the docs is exactly the wrong solutions that the grading shows to be so."""
    source = nbformat.read(grading.notebook_path(graded.exercise), as_version=4)
    functions = {nbgrader_meta(c).get("grade_id"): defined_functions(c.source) for c in source.cells
                 if nbgrader_meta(c).get("solution")}
    hidden_only, vague = [], []
    for i, wrong in enumerate(load_wrong_solutions(graded.exercise)):
        failed = graded.failed_checks(f"wrong{i}", wrong["loses"])
        visible = [v["reason"] for v in failed.values() if v.get("failed_in") == "visible"]
        if not visible:
            hidden_only.append(wrong["name"])
            continue
        names = functions[wrong["cell"]] or {wrong["cell"]}
        teaching = [reason for reason in visible if not reason.startswith("AssertionError")
                    or ("expected" in reason and "got" in reason and any(name in reason for name in names))]
        if not teaching:
            vague.append((wrong["name"], sorted(names), visible[0]))
    listed = hidden_only_wrong_solutions(graded.exercise)
    assert not vague and sorted(hidden_only) == sorted(listed), (
        f"{graded.exercise}: visible checks whose message does not name the function, what was expected and what "
        f"came back: {vague}; caught by hidden checks alone: {sorted(hidden_only)}; docs/hidden-tests.md lists "
        f"{sorted(listed)}")
    assert all(listed.values()), f"{graded.exercise}: give the reason of each hidden-only wrong solution"


@pytest.mark.parametrize("graded_batch", sorted(LAYOUT_CASES), indirect=True)   # the batches that hold layouts
def test_a_reorganized_notebook_scores_what_the_intact_one_with_the_same_code_scores(graded):
    """Functions moved between solution cells, all code in one cell, cells emptied, deleted or split, helper
    cells added: the same code earns the same points, cell by cell, and is not flagged."""
    cases = LAYOUT_CASES[graded.exercise]
    wrongs = load_wrong_solutions(graded.exercise)
    for layout, base in cases:
        student = layout_student(layout, base)
        cells = list(graded.scores[base]) if base == "solution" else wrongs[int(base[5:])]["loses"]
        expected = {cell: graded.scores[base][cell] for cell in cells}
        assert {cell: graded.scores[student][cell] for cell in cells} == expected, (layout, base, graded.scores[student])
        assert not records.entries(graded.autograded_notebook(student), "flags"), (layout, base)


def test_solution_run_writes_nothing_to_stderr(graded):
    """No TensorFlow start-up lines, no warnings: a student sees a clean notebook."""
    noise = stderr_outputs(graded.autograded_notebook("solution"))
    assert not noise, f"{graded.exercise}: stderr output in cells {[(i, t[:200]) for i, t in noise]}"


def test_solution_run_sets_the_final_metric_without_errors(graded):
    nb = graded.autograded_notebook("solution")
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{graded.exercise}: errors in the solution run: {errors}"


def test_feedback_hides_hidden_tests(graded):
    """Feedback for a wrong solution shows its errors but no hidden-test code or traceback lines."""
    student = "wrong0" if "wrong0" in graded.scores else "stub"
    page = html.unescape(re.sub(r"<[^>]+>", "", generate_feedback(graded, student)))
    source = nbformat.read(grading.notebook_path(graded.exercise), as_version=4)
    hidden = grading.secret_lines(source, hidden_only=True)
    assert hidden, "every exercise has hidden tests"
    page_lines = {line.strip() for line in page.splitlines()}
    shown = sorted(hidden & page_lines)
    assert not shown, f"{graded.exercise}: feedback shows hidden test lines {shown[:3]}"
    assert "Hidden tests ran in this cell" in page or graded.total(student)[0] == graded.total(student)[1]


def test_hidden_tests_kill_at_least_95_percent_of_the_ci_mutants(graded_batch):
    run, graded_mutants, acknowledged = graded_batch
    result = mutants.tally(run.exercise, run, graded_mutants, acknowledged)
    assert result.killed, f"{run.exercise}: no mutant killed"
    assert result.kill_rate >= 0.95, mutants.format_run(result)


def test_a_mutant_stops_at_its_first_failed_test_and_the_others_run_on(graded_batch):
    """Mutants stop at their first failed test; the solution and stub in the same batch run every cell."""
    run, graded_mutants, acknowledged = graded_batch
    killed = mutants.tally(run.exercise, run, graded_mutants, acknowledged).killed
    verdicts = records.record(run.autograded_notebook(mutants.student_id(killed[0])))["verdicts"]
    failed = [cell for cell, v in verdicts.items() if not v["passed"]]
    assert failed and all(verdicts[cell]["reason"] == "not run: an earlier test failed" for cell in failed[1:]), failed
    for student in ("solution", "stub"):
        reasons = [v["reason"] for v in records.record(run.autograded_notebook(student))["verdicts"].values()]
        assert not [r for r in reasons if r.startswith("not run")], (student, reasons)
