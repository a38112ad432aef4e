"""Intake: LMS, Colab and e-mail uploads end in the right grade or in a named status, never a silent zero.

Unit tests for the file-name rules, then end to end in a temporary Exercise 1 course with real
nbgrader: `dl-course collect` of a Canvas zip (resubmission, LATE, "Copy of", a corrupt file, a PDF,
an unknown student), Moodle, Blackboard and per-student folders; `nbgrader autograde` without
--force; `nbgrader export` with statuses; a changed re-upload graded again without --force and an
unchanged one left alone; `nbgrader zip_collect` with the same presets.
"""

import csv
import datetime as dt
import io
import zipfile

import nbformat
import pytest

from course import cli, grading
from course.grading import intake
from course.grading.runner import student_form

pytestmark = pytest.mark.grading
EXERCISE = "ex01_numpy_dnn"


@pytest.mark.parametrize("name, expected", [
    ("ex01_numpy_dnn.ipynb", "ex01_numpy_dnn"),
    ("Copy of ex01_numpy_dnn.ipynb", "ex01_numpy_dnn"),
    ("Copy of ex01_numpy_dnn (1).ipynb", "ex01_numpy_dnn"),
    ("ex01_numpy_dnn-1.ipynb", "ex01_numpy_dnn"),
    ("EX01_NUMPY_DNN (2)-3.ipynb", "ex01_numpy_dnn"),
    ("ex01_numpy_dnn_LATE.ipynb", "ex01_numpy_dnn"),
])
def test_file_names_are_forgiven_copy_markers_resubmission_suffixes_and_case(name, expected):
    assert intake.normalize_name(name) == expected


@pytest.mark.parametrize("relative, lms, identities, file, late", [
    ("doejane_1001_77001_ex01_numpy_dnn.ipynb", "canvas", ["1001", "doejane"], "ex01_numpy_dnn.ipynb", False),
    ("doejane_LATE_1001_77002_ex01_numpy_dnn-1.ipynb", "canvas", ["1001", "doejane"], "ex01_numpy_dnn-1.ipynb", True),
    ("Jane Doe_4242_assignsubmission_file_/Copy of ex01_numpy_dnn.ipynb", "moodle", ["4242", "Jane Doe"],
     "Copy of ex01_numpy_dnn.ipynb", False),
    ("Jane Doe_4242_assignsubmission_file_ex01_numpy_dnn.ipynb", "moodle", ["4242", "Jane Doe"],
     "ex01_numpy_dnn.ipynb", False),
    ("Exercise 1_jdoe_attempt_2026-11-20-14-30-55_ex01_numpy_dnn.ipynb", "blackboard", ["jdoe"],
     "ex01_numpy_dnn.ipynb", False),
    ("jdoe/Copy of ex01_numpy_dnn.ipynb", "folders", ["jdoe"], "Copy of ex01_numpy_dnn.ipynb", False),
])
def test_each_lms_preset_reads_student_file_and_late_marker(relative, lms, identities, file, late):
    assert intake.detect_lms([relative]) == lms
    parsed = intake.parse_name(relative, lms)
    assert parsed["identities"] == identities and parsed["file"] == file and parsed["late"] is late


def test_blackboard_attempt_time_is_the_upload_time():
    parsed = intake.parse_name("Ex 1_jdoe_attempt_2026-11-20-14-30-55_ex01_numpy_dnn.ipynb", "blackboard")
    assert parsed["timestamp"] == dt.datetime(2026, 11, 20, 14, 30, 55)


def test_roster_finds_students_by_id_lms_id_email_and_lms_name():
    roster = intake.Roster([{"id": "s1", "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@uni.edu",
                             "lms_user_id": "1001"}])
    for identities in (["s1"], ["1001"], ["jane.doe@uni.edu"], ["jane.doe"], ["doejane"], ["Jane Doe"], ["x", "DOE Jane"]):
        assert roster.find(identities) == "s1", identities
    assert roster.find(["someone"]) is None


def test_a_roster_without_an_id_column_is_refused_with_the_columns_it_needs(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("name,mail\nJane,j@x\n")
    with pytest.raises(ValueError, match="needs an `id` column"):
        intake.read_roster(path)


# --------------------------------------------------------------------------- end to end

ROSTER = """id,first_name,last_name,email,lms_user_id
jdoe,Jane,Doe,jane.doe@uni.edu,1001
bsmith,Bob,Smith,bob.smith@uni.edu,1002
cbrown,Carol,Brown,carol@uni.edu,1003
dwhite,Dan,White,dan@uni.edu,1004
efox,Eve,Fox,eve@uni.edu,1005
"""


def _zip(entries):
    """A zip file's bytes from [(name, bytes, (y, m, d, H, M, S))]."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, when in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A temporary Exercise 1 course (assignment generated) with a roster file; and the notebooks."""
    root = grading.make_course_copy([EXERCISE], target=tmp_path_factory.mktemp("intake"))
    grading.nbgrader(root, "generate_assignment", EXERCISE, "--force")
    (root / "roster.csv").write_text(ROSTER)
    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    wrong = grading.load_wrong_solutions(EXERCISE)[0]
    notebooks = {"solved": nbformat.writes(student_form(source, release)).encode(),
                 "wrong": nbformat.writes(student_form(grading.apply_wrong_solution(source, wrong), release)).encode(),
                 "stub": nbformat.writes(release).encode()}
    return root, notebooks


def _grades(root):
    grading.nbgrader(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_canvas_zip_collected_graded_and_exported_with_a_status_for_everyone(course, capsys):
    root, nbs = course
    canvas = _zip([
        ("doejane_1001_7001_ex01_numpy_dnn.ipynb", nbs["stub"], (2026, 11, 20, 10, 0, 0)),
        ("doejane_LATE_1001_7002_ex01_numpy_dnn-1.ipynb", nbs["solved"], (2026, 11, 21, 9, 0, 0)),
        ("smithbob_1002_7003_Copy of ex01_numpy_dnn.ipynb", nbs["solved"], (2026, 11, 20, 11, 0, 0)),
        ("browncarol_1003_7004_ex01_numpy_dnn.ipynb", b'{"cells": [', (2026, 11, 20, 12, 0, 0)),
        ("whitedan_1004_7005_report.pdf", b"%PDF-1.4", (2026, 11, 20, 13, 0, 0)),
        ("strangerjoe_9999_7006_ex01_numpy_dnn.ipynb", nbs["solved"], (2026, 11, 20, 14, 0, 0)),
    ])
    (root / "canvas.zip").write_bytes(canvas)
    status = cli.main(["--course", str(root), "collect", EXERCISE, str(root / "canvas.zip"), "--roster",
                       str(root / "roster.csv")])
    out = capsys.readouterr().out
    assert status == 1, "a rejected file makes the exit status 1"
    rows = {r["student"]: r for r in csv.DictReader(open(root / "reports" / EXERCISE / "intake.csv"))}
    assert rows["jdoe"]["status"] == "collected" and "late" in rows["jdoe"]["detail"]
    assert rows["bsmith"]["status"] == "collected"
    assert rows["cbrown"]["status"] == "rejected" and "JSON" in rows["cbrown"]["detail"]
    assert rows["dwhite"]["status"] == "rejected" and "not a notebook" in rows["dwhite"]["detail"]
    assert rows["efox"]["status"] == "missing"
    assert any(r["status"] == "rejected" and "unknown student" in r["detail"] for r in rows.values())
    assert "missing" in out and "rejected" in out
    assert (root / "submitted" / "jdoe" / EXERCISE / "timestamp.txt").read_text().startswith("2026-11-21 09:00")
    assert (root / "submitted" / "jdoe" / EXERCISE / f"{EXERCISE}.ipynb").read_bytes() == nbs["solved"], "newest upload wins"

    grading.nbgrader(root, "autograde", EXERCISE)
    grades = _grades(root)
    assert grades["jdoe"]["score"] == "15.0" and grades["jdoe"]["status"] == "graded"
    assert grades["bsmith"]["score"] == "15.0"
    assert grades["cbrown"]["status"] == "rejected" and grades["cbrown"]["score"] == "0.0" and "JSON" in grades["cbrown"]["reason"]
    assert grades["dwhite"]["status"] == "rejected" and grades["dwhite"]["score"] == "0.0"
    assert grades["efox"]["status"] == "missing" and grades["efox"]["score"] == "", "missing is not a zero"


def test_a_changed_reupload_is_graded_again_without_force_and_an_unchanged_one_is_not(course):
    root, nbs = course
    if not (root / "autograde" / "bsmith").is_dir():
        pytest.skip("needs the Canvas intake above")
    later = _zip([("smithbob_1002_7010_ex01_numpy_dnn-2.ipynb", nbs["wrong"], (2026, 11, 22, 8, 0, 0)),
                  ("doejane_1001_7011_ex01_numpy_dnn-2.ipynb", nbs["solved"], (2026, 11, 22, 8, 0, 0))])
    (root / "canvas2.zip").write_bytes(later)
    rows = intake.collect(EXERCISE, [root / "canvas2.zip"], course_root=root, log=lambda *a: None)
    status = {r["student"]: r["status"] for r in rows}
    assert status["bsmith"] == "collected" and status["jdoe"] == "unchanged"
    log = grading.nbgrader(root, "autograde", EXERCISE)
    assert "Skipping existing assignment" in log and "jdoe" in log
    grades = _grades(root)
    assert float(grades["bsmith"]["score"]) < 15, "the changed upload was graded again"
    assert grades["jdoe"]["score"] == "15.0"


def test_moodle_blackboard_and_colab_folders_are_recognised(course, tmp_path):
    root, nbs = course
    moodle = _zip([("Eve Fox_5005_assignsubmission_file_/Copy of ex01_numpy_dnn (1).ipynb", nbs["solved"],
                    (2026, 11, 20, 10, 0, 0))])
    blackboard = _zip([("Exercise 1_cbrown_attempt_2026-11-23-10-00-00_ex01_numpy_dnn.ipynb", nbs["solved"],
                        (2026, 11, 23, 10, 0, 0)),
                       ("Exercise 1_cbrown_attempt_2026-11-23-10-00-00.txt", b"receipt", (2026, 11, 23, 10, 0, 0))])
    (tmp_path / "moodle.zip").write_bytes(moodle)
    (tmp_path / "bb.zip").write_bytes(blackboard)
    colab = tmp_path / "colab" / "dwhite"
    colab.mkdir(parents=True)
    (colab / "Copy of ex01_numpy_dnn.ipynb").write_bytes(nbs["solved"])
    for path, student in [(tmp_path / "moodle.zip", "efox"), (tmp_path / "bb.zip", "cbrown"),
                          (tmp_path / "colab", "dwhite")]:
        rows = intake.collect(EXERCISE, [path], course_root=root, log=lambda *a: None)
        mine = [r for r in rows if r["student"] == student]
        assert mine and mine[0]["status"] == "collected", (path, rows)


def test_nbgrader_zip_collect_uses_the_same_presets(course):
    root, nbs = course
    archive = root / "downloaded" / EXERCISE / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    (archive / "canvas.zip").write_bytes(_zip([("whitedan_1004_8001_Copy of ex01_numpy_dnn.ipynb", nbs["stub"],
                                                (2026, 11, 24, 10, 0, 0))]))
    log = grading.nbgrader(root, "zip_collect", EXERCISE, "--force")
    assert "0 files collected" not in log
    assert (root / "submitted" / "dwhite" / EXERCISE / f"{EXERCISE}.ipynb").read_bytes() == nbs["stub"]
