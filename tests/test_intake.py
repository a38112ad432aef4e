"""Intake: LMS, Colab and e-mail uploads end in the right grade or in a named status, never a silent zero.

Unit tests for the file-name rules, then end to end in a temporary Exercise 1 course with real
nbgrader: `dl-course collect` of a Canvas zip (resubmission, LATE, "Copy of", a corrupt file, a PDF,
an unknown student), Moodle, Blackboard and per-student folders; `nbgrader autograde` without
--force; `nbgrader export` with statuses; a changed re-upload graded again without --force and an
unchanged one left alone; `nbgrader zip_collect` with the same presets.

Then the gaps of issue 18 (item 4), in a second course whose roster the gradebook holds: one
"newest upload" rule; a file named like another student's stays with its uploader; a student not
on the roster is a rejected row under the LMS's name; unzipped Moodle, Canvas and Blackboard
exports read as their zips; a corrupt newest upload leaves the older readable one collected, a
corrupt only upload lands nowhere; the real `nbgrader zip_collect` on Canvas and Moodle zips with
resubmissions collects everyone's newest readable upload, as `dl-course collect` does.
"""

import csv
import datetime as dt
import io
import shutil
import zipfile

import nbformat
import pytest
from nbgrader.utils import parse_utc

from course import cli, grading
from course.grading import intake
from course.grading.trial import student_form
from submissions import apply_wrong_solution, load_wrong_solutions

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
    ("Jane Doe_4242_assignsubmission_file/ex01_numpy_dnn.ipynb", "moodle", ["4242", "Jane Doe"],
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
    wrong = load_wrong_solutions(EXERCISE)[0]
    notebooks = {"solved": nbformat.writes(student_form(source, release)).encode(),
                 "wrong": nbformat.writes(student_form(apply_wrong_solution(source, wrong), release)).encode(),
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
    assert intake.NO_PENALTY in rows["jdoe"]["detail"], "the LMS's LATE, and no due date here: no penalty, said once"
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


# --------------------------------------------------------------------------- intake gaps (issue 18, item 4)

LMS_ROSTER = """id,first_name,last_name,email,lms_user_id
adams,Ann,Adams,ann@uni.edu,2001
baker,Ben,Baker,ben@uni.edu,2002
clark,Cleo,Clark,cleo@uni.edu,2003
davis,Dora,Davis,dora@uni.edu,2004
"""
CORRUPT = b'{"cells": ['     # a notebook cut off in the upload
NOON = (2026, 11, 30, 12, 0, 0)  # Canvas writes no upload time in a name; one time for every member


@pytest.fixture(scope="module")
def lms_course(tmp_path_factory, course):
    """A second temporary Exercise 1 course whose gradebook holds LMS_ROSTER (Canvas user ids as
    lms_user_id; Moodle's participant numbers are not on it, its names are)."""
    _, notebooks = course
    root = grading.make_course_copy([EXERCISE], target=tmp_path_factory.mktemp("lms"))
    grading.nbgrader(root, "generate_assignment", EXERCISE, "--force")
    (root / "roster.csv").write_text(LMS_ROSTER)
    grading.nbgrader(root, "db", "student", "import", str(root / "roster.csv"))
    return root, notebooks


def _submitted(root, student):
    return root / "submitted" / student / EXERCISE / f"{EXERCISE}.ipynb"


def _quiet(*_):
    pass


def _upload(name, lms_time=None, submission_id=None, resubmission=0, mtime=(2026, 11, 30, 12, 0, 0)):
    return intake.Upload(name, name, lambda: b"", dt.datetime(*mtime), lms_time=lms_time,
                         submission_id=submission_id, resubmission=resubmission)


def test_newest_upload_is_lms_time_then_submission_id_then_resubmission_then_file_time_with_increasing_stamps():
    bb = [_upload("a", lms_time=dt.datetime(2026, 11, 20, 9)), _upload("b", lms_time=dt.datetime(2026, 11, 21, 9),
                                                                     mtime=(2026, 1, 1, 0, 0, 0))]
    assert [u.source for u in intake.newest_first(bb)] == ["b", "a"], "the LMS's time beats the file's"
    canvas = [_upload("x-2", submission_id=7001, resubmission=2), _upload("x", submission_id=7005),
              _upload("x-1", submission_id=7001, resubmission=1)]
    ordered = intake.newest_first(canvas)
    assert [u.source for u in ordered] == ["x", "x-2", "x-1"], "a higher upload id is later, then the suffix"
    stamps = [u.timestamp for u in ordered]
    assert stamps[0] > stamps[1] > stamps[2] and stamps[2] == dt.datetime(*NOON), \
        "equal member times become strictly increasing along the order, the oldest keeps its time"
    moodle = [_upload("ex (1)", resubmission=1, mtime=(2026, 11, 20, 9, 0, 0)), _upload("ex", mtime=(2026, 11, 21, 9, 0, 0)),
              _upload("Copy of ex", mtime=(2026, 11, 22, 9, 0, 0))]
    assert [u.source for u in intake.newest_first(moodle)] == ["ex (1)", "Copy of ex", "ex"]
    again = [_upload("ex (1)", resubmission=1, mtime=(2026, 11, 20, 9, 0, 0)), _upload("ex", mtime=(2026, 11, 21, 9, 0, 0)),
             _upload("Copy of ex", mtime=(2026, 11, 22, 9, 0, 0))][::-1]
    assert [u.timestamp for u in intake.newest_first(again)] == [u.timestamp for u in intake.newest_first(moodle)], \
        "the same uploads in another order get the same time stamps"


@pytest.mark.parametrize("relative, lms, uploader", [
    ("bakerben_2002_7100_adamsann_2001_7099_ex01_numpy_dnn.ipynb", "canvas", "baker"),
    ("Ben Baker_880002_assignsubmission_file_/Ann Adams_880001_assignsubmission_file_/ex01_numpy_dnn.ipynb",
     "moodle", "baker"),
    ("Ben Baker_880002_assignsubmission_file_Ann Adams_880001_assignsubmission_file_ex01_numpy_dnn.ipynb",
     "moodle", "baker"),
    ("Exercise 1_baker_attempt_2026-11-20-10-00-00_Exercise 1_adams_attempt_2026-11-30-10-00-00_ex01_numpy_dnn.ipynb",
     "blackboard", "baker"),
    ("baker/adams/ex01_numpy_dnn.ipynb", "folders", "baker"),
    # Ann's Canvas name with Ben's user id (a changed display name): the LMS's id decides
    ("adamsann_2002_7102_ex01_numpy_dnn.ipynb", "canvas", "baker"),
])
def test_a_file_named_like_another_students_upload_stays_with_its_uploader(relative, lms, uploader):
    roster = intake.Roster(list(csv.DictReader(io.StringIO(LMS_ROSTER))))
    assert intake.detect_lms([relative]) == lms
    assert roster.find(intake.parse_name(relative, lms)["identities"]) == uploader


def test_a_students_zip_in_another_students_folder_stays_with_the_folder(lms_course, tmp_path):
    root, nbs = lms_course
    folder = tmp_path / "uploads" / "baker"
    folder.mkdir(parents=True)
    (folder / "mail attachment.zip").write_bytes(_zip([("adams/ex01_numpy_dnn.ipynb", nbs["wrong"], NOON)]))
    (tmp_path / "uploads" / "clark").mkdir()
    (tmp_path / "uploads" / "clark" / "ex01_numpy_dnn.ipynb").write_bytes(nbs["solved"])
    before = _submitted(root, "adams").read_bytes() if _submitted(root, "adams").is_file() else None
    rows = intake.collect(EXERCISE, [tmp_path / "uploads"], course_root=root, log=_quiet)
    mine = {r["student"]: r for r in rows}
    assert mine["baker"]["status"] == "collected" and _submitted(root, "baker").read_bytes() == nbs["wrong"]
    assert mine["baker"]["upload"] == "baker/mail attachment/adams/ex01_numpy_dnn.ipynb"
    assert (_submitted(root, "adams").read_bytes() if _submitted(root, "adams").is_file() else None) == before


def test_a_student_not_on_the_roster_is_a_rejected_row_with_the_name_the_lms_wrote(lms_course, tmp_path):
    root, nbs = lms_course
    moodle = tmp_path / "moodle.zip"
    moodle.write_bytes(_zip([
        ("Ann Adams_880001_assignsubmission_file_/ex01_numpy_dnn.ipynb", nbs["solved"], NOON),
        ("Zed Unknown_880009_assignsubmission_file_/ex01_numpy_dnn.ipynb", nbs["solved"], NOON),
    ]))
    canvas = tmp_path / "canvas.zip"
    canvas.write_bytes(_zip([("strangerjoe_9999_7006_ex01_numpy_dnn.ipynb", nbs["solved"], NOON)]))
    for path, name, upload in [(moodle, "Zed Unknown", "Zed Unknown_880009_assignsubmission_file_/ex01_numpy_dnn.ipynb"),
                               (canvas, "strangerjoe", "strangerjoe_9999_7006_ex01_numpy_dnn.ipynb")]:
        status = cli.main(["--course", str(root), "collect", EXERCISE, str(path)])
        assert status == 1, "a rejected file makes the exit status 1"
        rows = {r["student"]: r for r in csv.DictReader(open(root / "reports" / EXERCISE / "intake.csv"))}
        assert rows[name]["status"] == "rejected" and "not on the roster" in rows[name]["detail"], rows
        assert rows[name]["upload"] == upload
        assert not any(p.name in (name, "880009", "9999", "strangerjoe") for p in (root / "submitted").iterdir())
    assert rows["adams"]["status"] in ("collected", "unchanged")


def test_an_unzipped_moodle_export_folder_is_collected_without_lms(lms_course, tmp_path, capsys):
    root, nbs = lms_course
    export = tmp_path / "Exercise 1-42"
    zipfile.ZipFile(io.BytesIO(_zip([
        ("Ann Adams_880001_assignsubmission_file_/Copy of ex01_numpy_dnn.ipynb", nbs["stub"], NOON),
        ("Ben Baker_880002_assignsubmission_file_/ex01/ex01_numpy_dnn.ipynb", nbs["wrong"], NOON),
        ("Cleo Clark_880003_assignsubmission_onlinetext_/onlinetext.html", b"<p>see the notebook</p>", NOON),
        ("Cleo Clark_880003_assignsubmission_file_/ex01_numpy_dnn (1).ipynb", nbs["solved"], NOON),
    ]))).extractall(export)
    assert cli.main(["--course", str(root), "collect", EXERCISE, str(export)]) == 0
    assert "as moodle uploads" in capsys.readouterr().out
    rows = {r["student"]: r for r in csv.DictReader(open(root / "reports" / EXERCISE / "intake.csv"))}
    for student, content in [("adams", "stub"), ("baker", "wrong"), ("clark", "solved")]:
        assert rows[student]["status"] in ("collected", "unchanged"), rows[student]
        assert _submitted(root, student).read_bytes() == nbs[content], student
    assert "onlinetext.html" in rows["clark"]["detail"]
    # the student folders themselves (a shell's `Exercise 1-42/*`), as the zip's names
    rows = intake.collect(EXERCISE, sorted(export.iterdir()), course_root=root, log=_quiet)
    assert {r["student"]: r["status"] for r in rows if r["student"] in ("adams", "baker")} == \
        {"adams": "unchanged", "baker": "unchanged"}


def test_moodles_download_in_folders_is_collected_as_a_folder_or_zip_with_or_without_lms(lms_course, tmp_path):
    """Moodle's "Download submissions in folders": `<Full name>_<participant id>_assignsubmission_file/<file>`."""
    root, nbs = lms_course
    members = [("Ann Adams_880001_assignsubmission_file/ex01_numpy_dnn.ipynb", nbs["stub"], NOON),
               ("Ben Baker_880002_assignsubmission_file/Copy of ex01_numpy_dnn.ipynb", nbs["wrong"], NOON),
               ("Cleo Clark_880003_assignsubmission_file/ex01_numpy_dnn (1).ipynb", nbs["solved"], NOON)]
    archive = tmp_path / "Exercise 1-42.zip"
    archive.write_bytes(_zip(members))
    folder = tmp_path / "Exercise 1-42"
    zipfile.ZipFile(archive).extractall(folder)
    for paths, lms in [([folder], None), ([folder], "moodle"), ([archive], None), (sorted(folder.iterdir()), "moodle")]:
        rows = {r["student"]: r for r in intake.collect(EXERCISE, paths, course_root=root, lms=lms, log=_quiet)}
        for student, content in [("adams", "stub"), ("baker", "wrong"), ("clark", "solved")]:
            assert rows[student]["status"] in ("collected", "unchanged"), (paths, lms, rows[student])
            assert _submitted(root, student).read_bytes() == nbs[content], (paths, lms, student)
            assert rows[student]["lms"] == "moodle" and rows[student]["lms_user_id"].startswith("88000")


def test_unzipped_canvas_and_blackboard_folders_are_recognised_as_their_zips(lms_course, tmp_path):
    root, nbs = lms_course
    canvas = tmp_path / "downloads" / "submissions"   # the folder given is one above the files
    canvas.mkdir(parents=True)
    (canvas / "adamsann_2001_7201_ex01_numpy_dnn.ipynb").write_bytes(nbs["wrong"])
    (canvas / "adamsann_2001_7202_ex01_numpy_dnn-1.ipynb").write_bytes(nbs["solved"])
    blackboard = tmp_path / "bb"
    blackboard.mkdir()
    (blackboard / "Exercise 1_davis_attempt_2026-11-23-10-00-00_ex01_numpy_dnn.ipynb").write_bytes(nbs["solved"])
    (blackboard / "Exercise 1_davis_attempt_2026-11-23-10-00-00.txt").write_bytes(b"receipt")
    for path, student in [(tmp_path / "downloads", "adams"), (blackboard, "davis")]:
        rows = {r["student"]: r for r in intake.collect(EXERCISE, [path], course_root=root, log=_quiet)}
        assert rows[student]["status"] in ("collected", "unchanged"), rows
        assert _submitted(root, student).read_bytes() == nbs["solved"]
        assert not any(r["status"] == "rejected" for r in rows.values()), rows


def test_a_corrupt_newest_upload_leaves_the_older_readable_one_collected_and_the_report_says_so(lms_course, tmp_path):
    root, nbs = lms_course
    path = tmp_path / "canvas.zip"
    path.write_bytes(_zip([
        ("clarkcleo_2003_7301_ex01_numpy_dnn.ipynb", nbs["stub"], NOON),
        ("clarkcleo_2003_7302_ex01_numpy_dnn-1.ipynb", nbs["wrong"], NOON),
        ("clarkcleo_LATE_2003_7303_ex01_numpy_dnn-2.ipynb", CORRUPT, NOON),   # to block grading
    ]))
    rows = {r["student"]: r for r in intake.collect(EXERCISE, [path], course_root=root, log=_quiet)}
    row = rows["clark"]
    assert row["status"] == "collected" and row["upload"] == "clarkcleo_2003_7302_ex01_numpy_dnn-1.ipynb"
    assert "clarkcleo_LATE_2003_7303_ex01_numpy_dnn-2.ipynb rejected" in row["detail"] and "JSON" in row["detail"]
    assert _submitted(root, "clark").read_bytes() == nbs["wrong"], "the last readable upload is the one graded"
    assert CORRUPT not in (root / "submitted" / "clark" / EXERCISE).joinpath(f"{EXERCISE}.ipynb").read_bytes()


def test_a_corrupt_only_upload_is_a_rejected_row_and_nothing_in_submitted(lms_course, tmp_path):
    root, nbs = lms_course
    path = tmp_path / "moodle.zip"
    path.write_bytes(_zip([("Dora Davis_880004_assignsubmission_file_/ex01_numpy_dnn.ipynb", CORRUPT, NOON),
                           ("Dora Davis_880004_assignsubmission_file_/notes.pdf", b"%PDF-1.4", NOON)]))
    shutil.rmtree(root / "submitted" / "davis", ignore_errors=True)
    status = cli.main(["--course", str(root), "collect", EXERCISE, str(path)])
    assert status == 1
    rows = [r for r in csv.DictReader(open(root / "reports" / EXERCISE / "intake.csv")) if r["student"] == "davis"]
    assert len(rows) == 1 and rows[0]["status"] == "rejected" and "JSON" in rows[0]["detail"], rows
    assert rows[0]["upload"] == "Dora Davis_880004_assignsubmission_file_/ex01_numpy_dnn.ipynb"
    assert "notes.pdf" in rows[0]["detail"]
    assert not (root / "submitted" / "davis").exists(), "a rejected file never lands in submitted/"


def _zip_collect(root, name, entries):
    """`nbgrader zip_collect` (the real command, the course's LMSCollectorPlugin) of one LMS zip."""
    shutil.rmtree(root / "downloaded", ignore_errors=True)
    shutil.rmtree(root / "submitted", ignore_errors=True)
    archive = root / "downloaded" / EXERCISE / "archive"
    archive.mkdir(parents=True)
    (archive / name).write_bytes(_zip(entries))
    return grading.nbgrader(root, "zip_collect", EXERCISE, "--force")


def _collect_agrees(root, paths):
    """`dl-course collect` of the same zip finds every student's zip_collect submission unchanged."""
    rows = intake.collect(EXERCISE, paths, course_root=root, log=_quiet)
    for row in rows:
        assert row["status"] in ("unchanged", "rejected"), row
        if row["status"] == "unchanged":
            stamp = (root / "submitted" / row["student"] / EXERCISE / "timestamp.txt").read_text()
            assert parse_utc(stamp) == parse_utc(row["timestamp"]), (row, stamp)
    return {r["student"]: r for r in rows}


def test_nbgrader_zip_collect_of_a_canvas_zip_with_resubmissions_collects_everyone_and_the_newest(lms_course):
    root, nbs = lms_course
    entries = [
        ("adamsann_2001_7001_ex01_numpy_dnn.ipynb", nbs["stub"], NOON),
        ("adamsann_LATE_2001_7005_ex01_numpy_dnn-1.ipynb", nbs["solved"], NOON),
        ("bakerben_2002_7002_Copy of ex01_numpy_dnn.ipynb", nbs["wrong"], NOON),
        ("bakerben_2002_7006_ex01_numpy_dnn.ipynb", nbs["solved"], NOON),
        ("clarkcleo_2003_7003_ex01_numpy_dnn.ipynb", nbs["solved"], NOON),
        ("davisdora_2004_7004_ex01_numpy_dnn.ipynb", nbs["wrong"], NOON),
        ("davisdora_2004_7007_ex01_numpy_dnn-1.ipynb", CORRUPT, NOON),
        ("strangerjoe_9999_7008_ex01_numpy_dnn.ipynb", nbs["solved"], NOON),
    ]
    log = _zip_collect(root, "canvas.zip", entries)
    assert "Duplicate submission file" not in log
    for student, content in [("adams", "solved"), ("baker", "solved"), ("clark", "solved"), ("davis", "wrong")]:
        assert _submitted(root, student).read_bytes() == nbs[content], (student, log)
        assert (root / "submitted" / student / EXERCISE / "timestamp.txt").is_file()
    assert "davisdora_2004_7007_ex01_numpy_dnn-1.ipynb" in log and "JSON" in log, "the skipped file and why"
    assert "strangerjoe" in log and not (root / "submitted" / "9999").exists()
    (root / "canvas.zip").write_bytes(_zip(entries))
    _collect_agrees(root, [root / "canvas.zip"])


def test_nbgrader_zip_collect_of_a_moodle_zip_with_resubmissions_collects_everyone_and_the_newest(lms_course):
    root, nbs = lms_course
    entries = [
        ("Ann Adams_880001_assignsubmission_file_/ex01_numpy_dnn.ipynb", nbs["stub"], (2026, 11, 20, 10, 0, 0)),
        ("Ann Adams_880001_assignsubmission_file_/Copy of ex01_numpy_dnn.ipynb", nbs["solved"], (2026, 11, 21, 10, 0, 0)),
        ("Ben Baker_880002_assignsubmission_file_/ex01_numpy_dnn.ipynb", nbs["solved"], (2026, 11, 22, 10, 0, 0)),
        ("Ben Baker_880002_assignsubmission_file_/ex01_numpy_dnn (1).ipynb", nbs["wrong"], (2026, 11, 22, 10, 0, 0)),
        ("Cleo Clark_880003_assignsubmission_file_/ex01_numpy_dnn.ipynb", nbs["wrong"], (2026, 11, 20, 9, 0, 0)),
        ("Cleo Clark_880003_assignsubmission_file_/ex01_numpy_dnn (1).ipynb", CORRUPT, (2026, 11, 23, 9, 0, 0)),
        ("Dora Davis_880004_assignsubmission_file_ex01_numpy_dnn.ipynb", nbs["solved"], (2026, 11, 24, 9, 0, 0)),
    ]
    log = _zip_collect(root, "Exercise 1-42.zip", entries)
    assert "Duplicate submission file" not in log
    for student, content in [("adams", "solved"), ("baker", "wrong"), ("clark", "wrong"), ("davis", "solved")]:
        assert _submitted(root, student).read_bytes() == nbs[content], (student, log)
    stamp = (root / "submitted" / "adams" / EXERCISE / "timestamp.txt").read_text()
    assert stamp.startswith("2026-11-21 10:00"), "the time of the Moodle upload (the zip member's)"
    assert "ex01_numpy_dnn (1).ipynb" in log and "JSON" in log
    (root / "moodle.zip").write_bytes(_zip(entries))
    rows = _collect_agrees(root, [root / "moodle.zip"])
    assert "rejected" in rows["clark"]["detail"] and rows["clark"]["upload"].endswith("/ex01_numpy_dnn.ipynb")
