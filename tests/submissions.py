"""The tests' own submissions: the known wrong solutions of each exercise and the standard batch.

`tests/wrong_solutions/<exercise>.py` holds WRONG_SOLUTIONS, each a named edit of one solution cell of
the source notebook (`cell`, `old`, `new`). They are test material, not part of the package: the package
grades what it is given (`course.grading.trial`), this module says what the tests give it.

    python tests/submissions.py ex01_numpy_dnn ...

grades the solution, the released stub and every wrong solution of each exercise named (default: all)
and prints a score table: the quickest way to see which cells a new wrong solution loses, and whether a check
the student can run in the notebook catches it or hidden checks alone.

    python tests/submissions.py --visible [--mutants N] ...

prints the table of docs/hidden-tests.md instead: per exercise, how many wrong solutions and mutants a visible
check catches and how many hidden checks alone.
"""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path

import nbformat

from course.grading.notebooks import ROOT, exercises, nbgrader_meta, notebook_path
from course.grading.trial import grade_submissions, nbgrader

WRONG_SOLUTIONS = Path(__file__).resolve().parent / "wrong_solutions"


def load_wrong_solutions(exercise):
    """The WRONG_SOLUTIONS list of tests/wrong_solutions/<exercise>.py ([] when the file is missing)."""
    path = WRONG_SOLUTIONS / f"{exercise}.py"
    if not path.is_file():
        return []
    namespace = {"__file__": str(path)}   # a file may read its neighbours (lying_results.py)
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["WRONG_SOLUTIONS"]


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


def standard_submissions(exercise, root=ROOT):
    """{student_id: notebook}: "solution" (source), "stub" (release) and "wrong<i>" for each known wrong solution."""
    source = nbformat.read(notebook_path(exercise, root=root), as_version=4)
    submissions = {"solution": source, "stub": nbformat.read(notebook_path(exercise, "release", root=root), as_version=4)}
    for i, wrong in enumerate(load_wrong_solutions(exercise)):
        submissions[f"wrong{i}"] = apply_wrong_solution(source, wrong)
    return submissions


def flagged_submission(source, release):
    """A solved student notebook whose activation cell also reaches into the IPython shell: graded in full
    and flagged for review."""
    from course.grading.trial import student_form

    flagged = student_form(source, release)
    cell = next(c for c in flagged.cells if c.cell_type == "code" and "def " in c.source and "sigmoid" in c.source)
    cell.source += "\n_shell = get_ipython()\n"
    return flagged


def stderr_outputs(nb):
    """Text of every stderr stream output in an executed notebook, as (cell index, text) pairs."""
    return [(i, o.get("text", "")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def generate_feedback(run, student):
    """Run `nbgrader generate_feedback` for one student of a GradingRun; returns the HTML text."""
    nbgrader(run.course_dir, "generate_feedback", run.exercise, "--student", student, "--force")
    return (run.course_dir / "feedback" / student / run.exercise / f"{run.exercise}.html").read_text()


CAUGHT_BY = {"visible": "a visible check", "hidden": "hidden checks alone", None: "nothing"}   # GradingRun.caught_by
VISIBLE_HEADER = ["| exercise | wrong solutions | caught by a visible check | by hidden checks alone | mutants graded "
                  "| killed | killed by a visible check | by hidden checks alone |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]


def visible_row(exercise, mutant_count=None):
    """One markdown row: how many of the exercise's wrong solutions, and of its mutant draw (seed 0, the test
    suite's sample by default), a check the student can run in the notebook catches, and how many hidden checks
    alone. Graded in one batch, each wrong solution until the cells it must lose, each mutant until its first
    failed test cell (so a mutant counts as caught visibly when the first test cell it fails, fails visibly)."""
    from course.grading import mutants

    wrongs = load_wrong_solutions(exercise)
    source = nbformat.read(notebook_path(exercise), as_version=4)
    graded_mutants, acknowledged = mutants.select(exercise, count=mutant_count or mutants.CI_COUNT, seed=mutants.SEED)
    students = {f"wrong{i}": apply_wrong_solution(source, wrong) for i, wrong in enumerate(wrongs)}
    students.update(mutants.submissions(graded_mutants))
    run = grade_submissions(exercise, students, stop_after={f"wrong{i}": w["loses"] for i, w in enumerate(wrongs)},
                            stop_at_first_failure=[s for s in students if not s.startswith("wrong")])
    caught = [run.caught_by(f"wrong{i}", wrong["loses"]) for i, wrong in enumerate(wrongs)]
    tally = mutants.tally(exercise, run, graded_mutants, acknowledged)
    shutil.rmtree(run.course_dir, ignore_errors=True)
    return (f"| {exercise} | {len(wrongs)} | {caught.count('visible')} | {caught.count('hidden')} | {len(graded_mutants)} "
            f"| {len(tally.killed)} | {len(tally.caught_visibly)} | {len(tally.killed) - len(tally.caught_visibly)} |")


def main(argv=None):
    """Grade the solution, the stub and the wrong solutions of each exercise named; print a score table."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("exercise", nargs="*", help="exercise folder names (default: all in source/)")
    parser.add_argument("--visible", action="store_true", help="print instead the markdown table of how many wrong "
                        "solutions and mutants a visible check catches (docs/hidden-tests.md)")
    parser.add_argument("--mutants", type=int, help="with --visible: mutants per exercise (default: the test suite's sample)")
    args = parser.parse_args(argv)
    if args.visible:
        print("\n".join(VISIBLE_HEADER), flush=True)
        for exercise in args.exercise or exercises():
            print(visible_row(exercise, args.mutants), flush=True)
        return 0
    for exercise in args.exercise or exercises():
        wrongs = load_wrong_solutions(exercise)
        submissions = standard_submissions(exercise)
        run = grade_submissions(exercise, submissions)
        print(f"\n{exercise}")
        caught = {}
        for student in submissions:
            score, maximum = run.total(student)
            label = wrongs[int(student[5:])]["name"] if student.startswith("wrong") else student
            by = ""
            if student.startswith("wrong"):
                where = run.caught_by(student, wrongs[int(student[5:])]["loses"])
                caught[where] = caught.get(where, 0) + 1
                by = f"  [caught by: {CAUGHT_BY[where]}]"
            print(f"  {score:5.1f} / {maximum:<5.1f} {label}{by}")
        print(f"  {len(wrongs)} wrong solutions: {caught.get('visible', 0)} caught by a check the student can run, "
              f"{caught.get('hidden', 0)} by hidden checks alone")
        shutil.rmtree(run.course_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
