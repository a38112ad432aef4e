"""Grades and feedback back into Canvas, Moodle and Blackboard, in files their importers take unchanged.

One temporary Exercise 1 course, one class graded once: ada (correct, on time), fin (correct, a day late
with an extension that covers it), gus (correct, a day late: 10 % off), eve (a wrong solution), bo (correct,
but reaching into IPython: flagged), cy (a corrupt file: rejected), dee (on the roster, nothing submitted).
The class is collected from a Canvas zip, graded, exported and its feedback returned; then the same uploads
are collected from a Moodle download and a Blackboard download (unchanged files: no regrading) and exported
and returned for those. Each file is read back with the rules of the LMS's own importer (canvas-lms
GradebookImporter and Assignment#infer_comment_context_from_filename; Moodle's assignfeedback_offline
importer and assignfeedback_file zip importer; Blackboard's Grade Center upload rules) and compared student
by student. Flagged work is held back until `dl-course flags --clear`. The same class also goes to an LTI 1.3
platform (`lti1p3platform`, tests/lti_platform.py): `dl-course lti roster` reads its class list, `dl-course lti
scores` posts into its gradebook with the same rules.
"""

import csv
import datetime as dt
import io
import json
import re
import zipfile

import nbformat
import pytest

from course import cli, grading
from course.coursedir import write_overrides
from course.grading import lms
from course.grading.trial import student_form
from lti_platform import INSTRUCTOR, LEARNER, MENTOR, Platform
from submissions import apply_wrong_solution, flagged_submission, load_wrong_solutions
from traitlets.config import Config

pytestmark = pytest.mark.grading
EXERCISE = "ex01_numpy_dnn"
CANVAS_ASSIGNMENT, BLACKBOARD_COLUMN = 5501, 880123
ROSTER = """id,first_name,last_name,email,lms_user_id
ada,Ada,Lovelace,ada@uni.example,1001
bo,Bo,Diddley,bo@uni.example,1002
cy,Cy,Young,cy@uni.example,
dee,Dee,Snider,dee@uni.example,1004
eve,Eve,Arden,eve@uni.example,1005
fin,Fin,Tutor,fin@uni.example,1006
gus,Gus,Grissom,gus@uni.example,1007
"""
# (student, Canvas name, Canvas user id, Canvas attachment id, Moodle name, Moodle participant id, notebook)
CLASS = [("ada", "lovelaceada", 1001, 7001, "Ada Lovelace", 4201, "solved"),
         ("bo", "diddleybo", 1002, 7002, "Bo Diddley", 4202, "flagged"),
         ("cy", "youngcy", 1003, 7003, "Cy Young", 4203, "corrupt"),
         ("eve", "ardeneve", 1005, 7005, "Eve Arden", 4205, "wrong"),
         ("fin", "tutorfin", 1006, 7006, "Fin Tutor", 4206, "solved"),
         ("gus", "grissomgus", 1007, 7007, "Gus Grissom", 4207, "solved")]
DUE = "2026-11-20 12:00 UTC"
WHEN = (2026, 11, 20, 10, 0, 0)
LATE = (2026, 11, 21, 10, 0, 0)   # 22 h after the due date: one started day late
LATE_STUDENTS = {"fin", "gus"}


def _zip(entries):
    """A zip of [(name, bytes, student)]; the late students' files were uploaded a day after the others."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, student in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=LATE if student in LATE_STUDENTS else WHEN), data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course after a Canvas intake, `dl-course grade` and `nbgrader generate_feedback`."""
    root = grading.make_course_copy([EXERCISE], target=tmp_path_factory.mktemp("lms"))
    write_overrides(root, Config({"LmsExport": {"canvas_assignment_ids": {EXERCISE: CANVAS_ASSIGNMENT},
                                                "blackboard_column_ids": {EXERCISE: BLACKBOARD_COLUMN},
                                                "titles": {EXERCISE: "Exercise 1: NumPy DNN"}},
                                 "CourseSchedule": {"due_dates": {EXERCISE: DUE}}}))
    (root / "extensions.csv").write_text(f"student,exercise,extra\nfin,{EXERCISE},2d\n")
    grading.nbgrader(root, "generate_assignment", EXERCISE, "--force")
    (root / "roster.csv").write_text(ROSTER)
    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    solved = student_form(source, release)
    flagged = flagged_submission(source, release)
    notebooks = {"solved": nbformat.writes(solved).encode(), "flagged": nbformat.writes(flagged).encode(),
                 "wrong": nbformat.writes(student_form(apply_wrong_solution(source, load_wrong_solutions(EXERCISE)[0]),
                                                       release)).encode(),
                 "corrupt": b'{"cells": ['}
    canvas = _zip([(f"{name}_{uid}_{aid}_{EXERCISE}.ipynb", notebooks[nb], student)
                   for student, name, uid, aid, _, _, nb in CLASS])
    (root / "canvas.zip").write_bytes(canvas)
    assert cli.main(["--course", str(root), "collect", EXERCISE, str(root / "canvas.zip"), "--roster",
                     str(root / "roster.csv")]) == 1   # cy's file is rejected
    assert cli.main(["--course", str(root), "grade", EXERCISE, "--quiet"]) == 1   # bo is flagged
    grading.nbgrader(root, "generate_feedback", EXERCISE)
    return root, notebooks


def _recollect(root, notebooks, preset):
    """Collect the same notebooks again from another LMS's download (unchanged: nothing is regraded)."""
    if preset == "moodle":
        entries = [(f"{mname}_{pid}_assignsubmission_file_/{EXERCISE}.ipynb", notebooks[nb], student)
                   for student, _, _, _, mname, pid, nb in CLASS]
    else:
        entries = [(f"Exercise 1_{student}_attempt_2026-11-2{1 if student in LATE_STUDENTS else 0}-10-00-00_"
                    f"{EXERCISE}.ipynb", notebooks[nb], student) for student, *_, nb in CLASS]
    (root / f"{preset}.zip").write_bytes(_zip(entries))
    cli.main(["--course", str(root), "collect", EXERCISE, str(root / f"{preset}.zip")])
    rows = {r["student"]: r for r in csv.DictReader(open(root / "reports" / EXERCISE / "intake.csv"))}
    assert rows["ada"]["lms"] == preset and rows["ada"]["status"] == "unchanged"


# --------------------------------------------------------------------------- the importers' rules

def read_canvas_gradebook(path):
    """{Canvas user id: grade} as canvas-lms' GradebookImporter reads the file, checking its rules."""
    rows = list(csv.reader(open(path, newline="", encoding="utf-8")))
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1], header
    assert re.match(r"SIS\s+User\s+ID", header[2]) and re.match(r"SIS\s+Login\s+ID", header[3])
    assert "Section" in header[4], "the last student column must be Section"
    title, assignment_id = re.match(r"^(.*) \((\d+)\)$", header[5]).groups()
    assert "Points Possible" in rows[1][0] and float(rows[1][5]) > 0
    grades = {}
    for row in rows[2:]:
        assert len(row) == len(header) and row[1].isdigit(), row
        assert row[5] == "EX" or re.fullmatch(r"\d+(\.\d+)?", row[5]), row
        grades[int(row[1])] = row[5]
    return title, int(assignment_id), grades


def read_canvas_feedback(path):
    """{(user id, attachment id): file} as Canvas's Re-Upload Submissions infers them from the names."""
    found = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            numbers = [part for part in name.rsplit("/", 1)[-1].split("_") if part.isdigit()][:2]
            assert len(numbers) == 2, f"{name}: Canvas ignores a file without a user id and an attachment id"
            found[tuple(map(int, numbers))] = archive.read(name).decode()
    return found


def read_moodle_worksheet(path):
    """{participant id: (grade, feedback)} as Moodle's offline grading worksheet importer reads it."""
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    found = {}
    for row in rows:
        for column in ("Identifier", "Grade", "Last modified (grade)"):
            assert column in row, f"Moodle refuses a worksheet without {column!r}"
        assert row["Identifier"].startswith("Participant ") and row["Identifier"][12:].isdigit()
        grade = float(row["Grade"])
        assert 0 <= grade <= float(row["Maximum Grade"]), "Moodle skips a grade above the maximum"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", row["Last modified (grade)"])
        found[int(row["Identifier"][12:])] = (grade, row["Feedback comments"])
    return found


def read_moodle_feedback(path):
    """{participant id: file} as Moodle's assignfeedback_file zip importer reads the paths."""
    found = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            info = name.split("/")[0].split("_", 4)
            assert len(info) >= 4 and info[1].isdigit() and info[2:4] == ["assignsubmission", "file"], name
            found[int(info[1])] = archive.read(name).decode()
    return found


def read_blackboard(path):
    """{username: grade} as the Grade Center upload reads a comma file (every value quoted) or a tab file."""
    data = path.read_bytes()
    if path.suffix == ".csv":
        text = data.decode("utf-8")
        for line in text.splitlines():
            assert re.fullmatch(r'"[^"]*"(,"[^"]*")*', line), f"an unquoted value: {line}"
        rows = list(csv.reader(io.StringIO(text)))
    else:
        assert data.startswith(b"\xff\xfe"), "tab-delimited files are UTF-16 with a byte-order mark"
        rows = list(csv.reader(io.StringIO(data[2:].decode("utf-16-le")), delimiter="\t"))
    header = rows[0]
    assert header[:3] == ["Last Name", "First Name", "Username"]
    title, points, column = re.match(r"^(.*) \[Total Pts: ([\d.]+) Score\] \|(\d+)$", header[3]).groups()
    assert int(column) == BLACKBOARD_COLUMN and float(points) == 15
    return {row[2]: float(row[3]) for row in rows[1:]}


# --------------------------------------------------------------------------- the tests

def test_canvas_gradebook_file_holds_graded_and_rejected_and_holds_back_flagged_and_missing(course, tmp_path, capsys):
    root, _ = course
    out = tmp_path / "canvas.csv"
    assert cli.main(["--course", str(root), "export", EXERCISE, "--out", str(out)]) == 1, "a flagged student is held"
    printed = capsys.readouterr().out
    title, assignment_id, grades = read_canvas_gradebook(out)
    assert (title, assignment_id) == ("Exercise 1: NumPy DNN", CANVAS_ASSIGNMENT)
    assert grades[1001] == "15" and grades[1003] == "0" and 0 < float(grades[1005]) < 15
    assert grades[1006] == "15", "the extension covers fin's day"
    assert grades[1007] == "13.5", "gus: one started day late, 10 % of 15 off"
    assert 1002 not in grades and 1004 not in grades, "flagged and missing are not written"
    assert "bo (ex01_numpy_dnn): flagged for review" in printed and "dee (ex01_numpy_dnn): missing" in printed


def test_the_same_file_through_nbgrader_export_and_an_excused_student_gets_ex(course, tmp_path):
    root, _ = course
    out = tmp_path / "from-nbgrader.csv"
    grading.nbgrader(root, "export", "--StatusCsvExport.lms=canvas", "--to", str(out))
    assert read_canvas_gradebook(out)[2][1001] == "15"
    write_overrides(root, Config({"LmsExport": {"excused": {EXERCISE: ["dee"]}}}))
    try:
        grades = read_canvas_gradebook(lms.export_grades([EXERCISE], "canvas", root, tmp_path / "ex.csv").path)[2]
    finally:
        write_overrides(root, Config({"LmsExport": {"excused": {}}}))
    assert grades[1004] == "EX"


def test_canvas_feedback_zip_names_carry_the_user_and_attachment_ids_of_each_upload(course, tmp_path):
    root, _ = course
    outcome = lms.return_feedback(EXERCISE, "canvas", root, tmp_path / "feedback.zip")
    files = read_canvas_feedback(outcome.path)
    assert set(files) == {(1001, 7001), (1005, 7005), (1006, 7006), (1007, 7007)}
    assert "15" in files[(1001, 7001)] and "BEGIN HIDDEN TESTS" not in files[(1001, 7001)]
    left_out = {student: why for student, _, why in outcome.held_back}
    assert left_out["bo"].startswith("flagged") and left_out["cy"].startswith("rejected")
    assert left_out["dee"] == "nothing submitted"


def test_a_missing_canvas_assignment_id_is_an_error_that_names_the_setting(course, tmp_path):
    root, _ = course
    write_overrides(root, Config({"LmsExport": {"canvas_assignment_ids": {}}}))
    try:
        with pytest.raises(SystemExit, match=r"c\.LmsExport\.canvas_assignment_ids .* ex01_numpy_dnn"):
            cli.main(["--course", str(root), "export", EXERCISE, "--lms", "canvas", "--out", str(tmp_path / "x.csv")])
    finally:
        write_overrides(root, Config({"LmsExport": {"canvas_assignment_ids": {EXERCISE: CANVAS_ASSIGNMENT}}}))


def test_moodle_worksheet_and_feedback_zip_use_the_participant_ids_of_the_moodle_download(course, tmp_path):
    root, notebooks = course
    _recollect(root, notebooks, "moodle")
    outcome = lms.export_grades([EXERCISE], None, root, tmp_path / "moodle.csv")
    assert outcome.lms == "moodle", "the LMS the exercise was collected from"
    sheet = read_moodle_worksheet(outcome.path)
    assert set(sheet) == {4201, 4203, 4205, 4206, 4207}
    assert sheet[4201][0] == 15 and sheet[4203][0] == 0 and "could not be graded" in sheet[4203][1]
    assert sheet[4206] == (15, "15/15 points; the feedback file has every test")
    assert sheet[4207][0] == 13.5 and "15 before a late penalty of 1.5" in sheet[4207][1]
    files = read_moodle_feedback(lms.return_feedback(EXERCISE, None, root, tmp_path / "m.zip").path)
    assert set(files) == {4201, 4205, 4206, 4207}


def test_blackboard_comma_and_tab_files_and_one_feedback_folder_per_student(course, tmp_path):
    root, notebooks = course
    _recollect(root, notebooks, "blackboard")
    for name in ("grades.csv", "grades.xls"):
        grades = read_blackboard(lms.export_grades([EXERCISE], "blackboard", root, tmp_path / name).path)
        assert grades["ada"] == 15 and grades["cy"] == 0 and "bo" not in grades and "dee" not in grades
    outcome = lms.return_feedback(EXERCISE, "blackboard", root, tmp_path / "bb")
    assert sorted(p.parent.name for p in outcome.path.glob("*/*.html")) == ["ada", "eve", "fin", "gus"]
    assert "no bulk feedback upload" in outcome.note


def _members():
    """The LMS course's class list: the roster's students under opaque LTI ids, an instructor, a student the
    gradebook does not know yet (zoe), one with no e-mail (no usable id) and a mentor (neither)."""
    people = [(student, first, last, f"{student}@uni.example", [LEARNER]) for student, first, last in
              (line.split(",")[:3] for line in ROSTER.splitlines()[1:])]
    people += [("ines", "Ines", "Teacher", "ines@uni.example", [INSTRUCTOR]),
               ("zoe", "Zoe", "Newcomer", "Zoe@Uni.Example", [LEARNER]),
               ("anon", "Anon", "Ymous", "", [LEARNER]),
               ("obs", "Ob", "Server", "obs@uni.example", [MENTOR])]   # Canvas's observers (parents)
    return [{"user_id": f"lti-{uid}-4f1c", "name": f"{first} {last}", "given_name": first, "family_name": last,
             "email": email, "roles": roles, "status": "Active"} for uid, first, last, email, roles in people]


def test_lti_roster_and_scores_reach_the_lms_gradebook_once_and_a_cleared_flag_follows(course, capsys):
    """End to end against an LTI 1.3 platform (lti1p3platform) on loopback: the class list read in pages,
    one score per student with the grade files' rules, a second run posts nothing, a cleared flag posts one."""
    root, _ = course
    platform = Platform(page_size=3)
    platform.members = _members()
    write_overrides(root, Config({"Lti13Tool": {
        "issuer": platform.issuer, "client_id": platform.client_id, "deployment_ids": [platform.deployment_id],
        "token_url": platform.token_url(), "memberships_url": platform.memberships_url(),
        "lineitems_url": platform.lineitems_url()}}))
    assert cli.main(["--course", str(root), "lti", "keys"]) == 0
    assert (root / "lti" / "private-key.pem").stat().st_mode & 0o077 == 0, "the tool's private key is its owner's"
    platform.tool_keys = json.loads((root / "lti" / "jwks.json").read_text())
    with platform.serve():
        assert cli.main(["--course", str(root), "lti", "roster"]) == 1, "anon has no usable id"
        printed = capsys.readouterr().out
        assert platform.member_pages == 4, "11 members, 3 a page"
        assert "added 1: zoe" in printed and "unchanged 7" in printed and "instructors and TAs 1: ines" in printed
        assert "no usable id: Anon Ymous: the LMS gives no email local" in printed
        users = {row["student"]: row for row in csv.DictReader(open(root / "lti" / "users.csv"))}
        assert users["ada"]["user_id"] == "lti-ada-4f1c" and users["ines"]["kind"] == "instructor"
        assert "obs" not in users and "anon" not in users

        assert cli.main(["--course", str(root), "lti", "scores", EXERCISE]) == 1, "bo is held back"
        printed = capsys.readouterr().out
        (item,) = platform.lineitems.values()
        assert (item["resourceId"], item["label"], item["scoreMaximum"]) == (EXERCISE, "Exercise 1: NumPy DNN", 15)
        assert item["id"].endswith("?type_id=7"), "the platform's line item URLs carry a query string, as Moodle's"
        book = platform.gradebook(EXERCISE)
        assert set(book) == {f"lti-{s}-4f1c" for s in ("ada", "cy", "eve", "fin", "gus")}, "bo, dee, zoe: not posted"
        assert book["lti-ada-4f1c"] == (15, "15/15 points; the feedback file has every test")
        assert book["lti-fin-4f1c"][0] == 15, "the extension covers fin's day"
        assert book["lti-gus-4f1c"] == (13.5, "13.5/15 points; 15 before a late penalty of 1.5; the feedback file "
                                               "has every test")
        assert book["lti-cy-4f1c"][0] == 0 and "could not be graded" in book["lti-cy-4f1c"][1]
        assert 0 < book["lti-eve-4f1c"][0] < 15
        assert all(dt.datetime.fromisoformat(post["timestamp"]).tzinfo for post in platform.posts)
        assert "not posted: bo: flagged for review" in printed and "not posted: dee: missing" in printed
        assert "LTI: 5 posted, 0 unchanged, 3 not posted" in printed

        posts = len(platform.posts)
        assert cli.main(["--course", str(root), "lti", "scores", EXERCISE]) == 1
        assert len(platform.posts) == posts, "a second run posts nothing"
        assert "LTI: 0 posted, 5 unchanged" in capsys.readouterr().out

        assert cli.main(["--course", str(root), "flags", EXERCISE, "--clear", "bo"]) == 0
        try:
            assert cli.main(["--course", str(root), "lti", "scores", EXERCISE]) == 0
            assert [post["userId"] for post in platform.posts[posts:]] == ["lti-bo-4f1c"]
            assert platform.gradebook(EXERCISE)["lti-bo-4f1c"][0] == 15
        finally:
            _flag(root, "bo")
        capsys.readouterr()

        ada = (item["id"], "lti-ada-4f1c")
        platform.scores[ada] = {**platform.scores[ada], "scoreGiven": 14}   # changed by hand in the LMS
        assert cli.main(["--course", str(root), "lti", "scores", EXERCISE]) == 1   # bo flagged again
        assert platform.gradebook(EXERCISE)["lti-ada-4f1c"][0] == 15, "the course's grade is set back"
        platform.scores[ada] = {**platform.scores[ada], "scoreGiven": 14}
        platform.not_enrolled.add("lti-ada-4f1c")   # ada has left the LMS course since
        assert cli.main(["--course", str(root), "lti", "scores", EXERCISE]) == 1
        assert "not posted: ada: the LMS refused the score: 403" in capsys.readouterr().out


def _flag(root, student):
    """Flag a student's notebooks again (as the Formgrader's flag does), for the tests that follow."""
    from nbgrader.api import Gradebook
    from course.coursedir import load_config

    config = load_config(root)
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        for notebook in gradebook.find_submission(EXERCISE, student).notebooks:
            notebook.flagged = True
        gradebook.db.commit()


def test_a_flag_holds_the_grade_back_everywhere_until_it_is_cleared(course, tmp_path, capsys):
    root, _ = course
    grading.nbgrader(root, "export", "--to", str(tmp_path / "grades.csv"))
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert rows["bo"]["status"] == "flagged" and rows["bo"]["score"] == "" and rows["bo"]["tests_score"] == "15.0"
    assert cli.main(["--course", str(root), "flags", EXERCISE]) == 1
    assert "flagged: bo:" in capsys.readouterr().out
    assert cli.main(["--course", str(root), "flags", EXERCISE, "--clear", "bo"]) == 0
    grading.nbgrader(root, "export", "--to", str(tmp_path / "grades.csv"))
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert rows["bo"]["status"] == "graded" and rows["bo"]["score"] == "15.0"
    assert rows["bo"]["reason"].startswith("reviewed, flag cleared")
    grades = read_canvas_gradebook(lms.export_grades([EXERCISE], "canvas", root, tmp_path / "c.csv").path)[2]
    assert grades[1002] == "15"
