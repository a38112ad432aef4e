"""`dl-course grade` grades exactly as serial `nbgrader autograde`, only new or changed work, also on Dask.

The same Exercise 1 submissions (the solution, the stub, the known wrong solutions, a flagged trick,
a corrupt file and a late one) go into two copies of a course: one graded by plain `nbgrader
autograde`, one by the engine's workers. The gradebooks must agree row by row and the graded
notebooks cell by cell.
"""

import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from course import cli, grading
from course.grading import engine, records
from course.grading.trial import student_form
from submissions import standard_submissions

pytestmark = pytest.mark.grading
EXERCISE = "ex01_numpy_dnn"
LATE = "2030-01-01 10:00:00.000000"   # after the due date set below


def submissions():
    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    subs = standard_submissions(EXERCISE)
    tricked = student_form(source, release)
    tricked.cells.insert(3, nbformat.v4.new_code_cell("np.allclose = lambda *a, **k: True"))
    subs.update({"tricked": tricked, "corrupt": b'{"cells": [', "late": student_form(source, release)})
    return subs


def prepare(course_dir, subs):
    """A course with the assignment (due 2029, late work scores zero) and the submissions; 'late' is
    stamped after the due date."""
    course = grading.make_course_copy([EXERCISE], target=course_dir)
    with open(course / "nbgrader_config.py", "a") as config:   # late work scores zero
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    grading.nbgrader(course, "db", "assignment", "add", EXERCISE, "--duedate", "2029-12-31 23:59:59 UTC")
    grading.nbgrader(course, "generate_assignment", EXERCISE, "--force")
    for student, nb in subs.items():
        folder = course / "submitted" / student / EXERCISE
        folder.mkdir(parents=True)
        path = folder / f"{EXERCISE}.ipynb"
        path.write_bytes(nb) if isinstance(nb, bytes) else nbformat.write(nb, path)
        (folder / "timestamp.txt").write_text(LATE if student == "late" else "2026-12-01 09:00:00.000000")
    return course


def gradebook_rows(course):
    """Everything autograde writes, by natural keys (ids are random)."""
    rows = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in gb.students:
            submission = gb.find_submission(EXERCISE, student.id)
            rows[student.id] = {
                "timestamp": str(submission.timestamp),
                "notebooks": {nb.name: {
                    "flagged": nb.flagged, "late_penalty": nb.late_submission_penalty,
                    "grades": sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in nb.grades),
                    "comments": sorted((c.name, c.auto_comment) for c in nb.comments)} for nb in submission.notebooks},
            }
    return rows


def graded_notebook(course, student):
    """A graded notebook without what differs between two runs (times, memory, per-run ids)."""
    nb = nbformat.read(course / "autograde" / student / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    record = records.record(nb)
    record.pop("timing", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return json.loads(nbformat.writes(nb))


def first_difference(a, b, path=""):
    """Where two JSON values first differ, for the assertion message."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{path}/{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {str(a)[:300]!r} != {str(b)[:300]!r}"


@pytest.fixture(scope="module")
def serial_and_parallel(tmp_path_factory):
    subs = submissions()
    serial = prepare(tmp_path_factory.mktemp("serial"), subs)
    grading.nbgrader(serial, "autograde", EXERCISE)
    parallel = prepare(tmp_path_factory.mktemp("parallel"), subs)
    summary = engine.grade(EXERCISE, course_root=parallel, workers=2, progress=False)
    yield serial, parallel, summary, subs
    shutil.rmtree(serial, ignore_errors=True)
    shutil.rmtree(parallel, ignore_errors=True)


def test_parallel_grading_writes_the_gradebook_serial_nbgrader_autograde_writes(serial_and_parallel):
    serial, parallel, summary, subs = serial_and_parallel
    assert sorted(summary.graded) == sorted(subs)
    expected, got = gradebook_rows(serial), gradebook_rows(parallel)
    assert got == expected
    assert got["solution"]["notebooks"][EXERCISE]["grades"][0][1] is not None
    assert got["late"]["notebooks"][EXERCISE]["late_penalty"] == 15
    assert got["tricked"]["notebooks"][EXERCISE]["flagged"] and not got["solution"]["notebooks"][EXERCISE]["flagged"]


def test_parallel_grading_writes_the_graded_notebooks_serial_autograde_writes(serial_and_parallel):
    serial, parallel, _, subs = serial_and_parallel
    for student in subs:
        got, expected = graded_notebook(parallel, student), graded_notebook(serial, student)
        assert got == expected, f"{student}: {first_difference(got, expected)}"
        files = sorted(p.name for p in (parallel / "autograde" / student / EXERCISE).iterdir())
        assert files == sorted(p.name for p in (serial / "autograde" / student / EXERCISE).iterdir())


def test_the_summary_names_what_needs_attention(serial_and_parallel):
    _, _, summary, subs = serial_and_parallel
    assert set(summary.rejected) == {"corrupt"} and "tricked" in summary.flagged
    assert not summary.failed and summary.needs_attention
    assert f"graded {len(subs)}" in summary.line() and "rejected 1" in summary.line()   # rejected ones count as graded (zero)


def test_only_new_or_changed_submissions_are_graded_again_unless_forced(serial_and_parallel, capsys):
    _, parallel, _, subs = serial_and_parallel
    changed = parallel / "submitted" / "stub" / EXERCISE / f"{EXERCISE}.ipynb"
    nbformat.write(subs["solution"], changed)
    status = cli.main(["--course", str(parallel), "grade", EXERCISE, "--workers", "2", "--quiet"])
    out = capsys.readouterr().out
    assert "graded 1," in out and f"unchanged {len(subs) - 1}" in out, out
    assert status == 0, "the one submission graded this time is clean"
    with Gradebook(f"sqlite:///{parallel / 'gradebook.db'}") as gb:
        assert gb.find_submission(EXERCISE, "stub").score == 15
    again = engine.grade(EXERCISE, course_root=parallel, students=["wrong0"], force=True, progress=False)
    assert again.graded == ["wrong0"] and not again.skipped


def test_a_dask_cluster_of_two_workers_grades_like_the_local_pool(serial_and_parallel, tmp_path):
    distributed = pytest.importorskip("distributed")
    serial, _, _, _ = serial_and_parallel
    subs = {k: v for k, v in submissions().items() if k in ("solution", "stub", "wrong0", "corrupt")}
    course = prepare(tmp_path / "dask", subs)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = engine.grade(EXERCISE, course_root=course, scheduler=cluster.scheduler_address, progress=False)
    assert sorted(summary.graded) == sorted(subs) and not summary.failed
    expected = gradebook_rows(serial)
    assert gradebook_rows(course) == {s: expected[s] for s in subs}


def test_the_report_shows_scores_hardest_tests_times_and_who_needs_a_look(serial_and_parallel, capsys):
    _, parallel, _, _ = serial_and_parallel
    (parallel / "reports" / EXERCISE).mkdir(parents=True, exist_ok=True)
    (parallel / "reports" / EXERCISE / "intake.csv").write_text(
        "student,status,detail,file,timestamp\nnobody,rejected,not a notebook (.pdf),x.pdf,\n")
    assert cli.main(["--course", str(parallel), "report", EXERCISE]) == 0
    page = (parallel / "reports" / EXERCISE / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    for text in ("Score histogram", "Pass rate per test cell", "Grading time per submission", "test_backward",
                 "tricked", "rebinds np.allclose", "corrupt", "not valid JSON", "nobody", "not a notebook"):
        assert text in page, text


def section(page, title):
    """The HTML of the report's section whose heading starts with `title` ("" when there is none)."""
    for part in page.split("<h2>")[1:]:
        if part.startswith(title):
            return part
    return ""


def test_the_report_names_the_flagged_cell_as_jupyterlab_does_and_loads_in_a_browser(serial_and_parallel, tmp_path):
    from browser import chromium
    from course.grading.report import write_report

    _, parallel, _, _ = serial_and_parallel
    path = write_report(EXERCISE, course_root=parallel, output=tmp_path / "report.html")
    # 'tricked' rebinds np.allclose in a cell inserted at index 3, under "## Setup": JupyterLab's "cell 4"
    assert "<td>tricked</td><td>cell 4</td>" in section(path.read_text(), "Flagged for review")
    screenshot = tmp_path / "report.png"
    with chromium() as browser:
        page = browser.new_page()
        page.goto(path.resolve().as_uri())
        headings = page.locator("h2").all_inner_texts()
        for title in ("Score histogram", "Pass rate per test cell", "Grading time per submission",
                      "Flagged for review", "Rejected", "Late submissions"):
            assert any(h.startswith(title) for h in headings), (title, headings)
        assert page.locator("h1").inner_text() == f"Grading report: {EXERCISE}"
        assert page.locator("table").count() >= 4
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert len(widths) == 3 and all(w > 0 for w in widths), widths
        # the pass-rate table names each test cell by part and grade id, as the feedback does
        assert page.locator("td", has_text="Part 5, test_backward (cell ").count() == 1
        page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0
    print(f"report screenshot: {screenshot}")


def test_a_cleared_flag_is_not_listed_as_needing_review(serial_and_parallel, tmp_path, capsys):
    from course.grading.report import write_report

    _, parallel, _, _ = serial_and_parallel
    db = f"sqlite:///{parallel / 'gradebook.db'}"
    cli.main(["--course", str(parallel), "flags", EXERCISE, "--clear", "tricked"])   # 1: wrong solutions stay flagged
    out = capsys.readouterr().out
    assert "cleared: tricked" in out and "flagged: tricked" not in out, out
    try:
        page = write_report(EXERCISE, course_root=parallel, output=tmp_path / "report.html").read_text()
    finally:   # the module's batch stays as graded for the other tests
        with Gradebook(db) as gb:
            for notebook in gb.find_submission(EXERCISE, "tricked").notebooks:
                notebook.flagged = True
            gb.db.commit()
    assert "tricked" not in section(page, "Flagged for review")
    assert "<td>tricked</td>" in section(page, "Flags cleared after review")
    assert "rebinds np.allclose" in section(page, "Flags cleared after review")


def test_the_empty_gradebook_is_the_one_nbgrader_creates_without_its_alembic_process(tmp_path):
    """The snapshot's gradebook: nbgrader's tables and schema revision, as `Gradebook()` would stamp them."""
    import sqlite3

    from nbgrader.api import Gradebook, get_alembic_version

    from course.coursedir import put_tools_on_path
    from course.grading.engine import create_empty_gradebook

    create_empty_gradebook(tmp_path / "ours.db")
    put_tools_on_path()
    with Gradebook(f"sqlite:///{tmp_path / 'nbgraders.db'}"):
        pass

    def schema(path):
        with sqlite3.connect(path) as db:
            tables = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type='table' AND name != 'alembic_version'"))
            return tables, db.execute("SELECT version_num FROM alembic_version").fetchall()
    ours, theirs = schema(tmp_path / "ours.db"), schema(tmp_path / "nbgraders.db")
    assert ours == theirs and ours[1] == [(get_alembic_version(),)]
    with Gradebook(f"sqlite:///{tmp_path / 'ours.db'}") as gb:   # nbgrader opens it as its own
        gb.update_or_create_assignment("ex01_numpy_dnn")


def test_grading_processes_skip_the_iri_grammar_and_still_validate_notebooks():
    """A worker (and the CLI) imports the engine without jsonschema's rfc3987 grammar (1.3 s of every start),
    and nbformat still refuses an invalid notebook: no notebook schema uses that string format."""
    probe = subprocess.run([sys.executable, "-c", """
import sys
import course.grading.engine
import nbformat
assert sys.modules["rfc3987_syntax"] is None, sys.modules["rfc3987_syntax"]
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
nbformat.validate(nb)
nb.cells[0]["execution_count"] = "one"
try:
    nbformat.validate(nb)
except nbformat.ValidationError:
    print("refused")
"""], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and probe.stdout.strip() == "refused", probe.stdout + probe.stderr
