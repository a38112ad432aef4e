"""Due dates, late penalties and extensions (course/grading/schedule.py).

The arithmetic at its edges (grace period, day boundary, cap), the settings and the extensions CSV with
their errors, the released notebook's due line; then one temporary course with three students of Exercise 1
(on time, late with an extension that covers it, late without one), graded by `dl-course grade` and by plain
`nbgrader autograde`, with the penalty in the gradebook, grades.csv, the feedback and the report.
"""

import concurrent.futures
import copy
import csv
import datetime
import shutil

import nbformat
import pytest
from nbgrader.api import Gradebook
from traitlets.config import Config

from course import grading
from course.coursedir import put_tools_on_path, write_overrides
from course.grading import engine, schedule
from course.grading.report import write_report
from course.grading.schedule import (CourseSchedule, PerDayLatePenalty, ShowDueDate, apply_schedule,
                                     parse_due_date, parse_extra, read_extensions, started_days_late)

EXERCISE = "ex01_numpy_dnn"
DAY, GRACE = 24 * 3600, 15 * 60


# ----------------------------------------------------------------------------- the arithmetic

@pytest.mark.parametrize("seconds_late, days, penalty", [
    (0, 0, 0.0),                       # on time
    (1, 0, 0.0),                       # inside the grace period
    (GRACE, 0, 0.0),                   # the grace period's last second
    (GRACE + 1, 1, 1.5),               # one second past the grace period: a started day
    (DAY, 1, 1.5),                     # exactly 24 h: still the first day
    (DAY + 1, 2, 3.0),                 # 24 h + 1 s: the second day has started
    (3 * DAY + 1, 4, 6.0),
    (5 * DAY, 5, 7.5),                 # 5 days x 10 % = the cap
    (5 * DAY + 1, 6, 7.5),             # beyond the cap: the cap
    (40 * DAY, 40, 7.5),
])
def test_the_penalty_is_a_share_per_started_day_after_the_grace_period_up_to_the_cap(seconds_late, days, penalty):
    plugin = PerDayLatePenalty()   # the course's defaults: 10 % per started day, cap 50 %, 15 min of grace
    assert started_days_late(seconds_late, plugin.grace_minutes) == days
    assert plugin.late_submission_penalty("ada", 15.0, seconds_late) == penalty


def test_days_count_from_the_due_date_not_from_the_end_of_the_grace_period():
    assert started_days_late(DAY + GRACE, 15) == 2   # counted from the end of grace it would be 1
    assert started_days_late(1, 0) == 1              # no grace: one second late is a day


def test_the_penalty_is_a_share_of_the_notebooks_score_without_floating_point_noise():
    plugin = PerDayLatePenalty(config=Config({"PerDayLatePenalty": {"share_per_day": 0.1, "cap": 1.0}}))
    assert plugin.late_submission_penalty("ada", 8.0, 2 * DAY) == 1.6          # of the score (8), not the maximum
    assert plugin.late_submission_penalty("ada", 15.0, 3 * DAY) == 4.5         # not 4.500000000000001
    assert plugin.late_submission_penalty("ada", 0.0, 3 * DAY) == 0.0
    assert plugin.late_submission_penalty("ada", 15.0, 11 * DAY) == 15.0       # cap 100 %: nothing left


def test_nbgraders_own_penalty_methods_still_work_with_the_course_plugin():
    zero = PerDayLatePenalty(config=Config({"LateSubmissionPlugin": {"penalty_method": "zero"}}))
    assert zero.late_submission_penalty("ada", 12.0, 60) == 12.0               # late work scores 0
    none = PerDayLatePenalty(config=Config({"PerDayLatePenalty": {"penalty_method": "none"}}))
    assert none.late_submission_penalty("ada", 12.0, 10 * DAY) is None


@pytest.mark.parametrize("setting, value", [("share_per_day", 1.5), ("cap", -0.1), ("grace_minutes", -1)])
def test_a_penalty_setting_out_of_range_is_an_error_naming_it(setting, value):
    with pytest.raises(ValueError, match=f"PerDayLatePenalty.{setting}"):
        PerDayLatePenalty(config=Config({"PerDayLatePenalty": {setting: value}}))


def test_the_repository_config_wires_the_plugin_with_the_course_defaults_and_sets_no_due_date():
    from course.coursedir import load_config

    config = load_config(grading.ROOT)
    assert config.AssignLatePenalties.plugin_class == "course.grading.schedule.PerDayLatePenalty"
    plugin = PerDayLatePenalty(config=config)
    assert (plugin.share_per_day, plugin.cap, plugin.grace_minutes, plugin.penalty_method) == (0.1, 0.5, 15, "per_day")
    assert CourseSchedule(config=config).due_dates == {}
    autograde = config.Autograde.autograde_preprocessors
    assert autograde.index("course.grading.schedule.ApplySchedule") + 1 == \
        autograde.index("nbgrader.preprocessors.AssignLatePenalties")
    from nbgrader.converters import GenerateAssignment

    default = GenerateAssignment.class_traits()["preprocessors"].default()
    defaults = [f"nbgrader.preprocessors.{p.__name__}" for p in default]
    ours = config.GenerateAssignment.preprocessors
    assert ours[0] == "course.grading.schedule.ShowDueDate"                       # before the checksums
    assert [p for p in ours if p.startswith("nbgrader.")] == defaults              # nbgrader's list, none dropped


# ----------------------------------------------------------------------------- due dates

@pytest.mark.parametrize("text, utc, shown", [
    ("2027-01-15 23:59 UTC", "2027-01-15 23:59:00", "2027-01-15 23:59 UTC"),
    ("2027-01-16 00:59:00 Europe/Berlin", "2027-01-15 23:59:00", "2027-01-16 00:59 Europe/Berlin"),   # CET
    ("2027-07-16 01:59:30 Europe/Berlin", "2027-07-15 23:59:30", "2027-07-16 01:59:30 Europe/Berlin"),  # CEST
    ("2027-01-15 18:59 -05:00", "2027-01-15 23:59:00", "2027-01-15 18:59 -05:00"),
])
def test_a_due_date_is_stored_in_utc_and_shown_as_the_course_wrote_it(text, utc, shown):
    due = parse_due_date("ex01_numpy_dnn", text)
    assert str(due.utc) == utc and due.display() == shown


@pytest.mark.parametrize("text, why", [
    ("2027-01-15 23:59", "no time zone"),
    ("2027-13-01 23:59 UTC", "does not match"),
    ("2027-01-15 23:59 Mars/Olympus", "unknown time zone"),
    ("next friday", "not a date"),
])
def test_a_bad_due_date_is_an_error_naming_the_exercise_and_the_format(text, why):
    with pytest.raises(ValueError, match=why) as error:
        CourseSchedule(config=Config({"CourseSchedule": {"due_dates": {"ex03_cnn_mnist": text}}}))
    assert "due_dates['ex03_cnn_mnist']" in str(error.value) and "YYYY-MM-DD HH:MM[:SS] ZONE" in str(error.value)


def test_without_a_due_date_the_release_notebook_is_left_byte_for_byte_as_it_is():
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    before = nbformat.writes(release)
    resources = {"nbgrader": {"assignment": EXERCISE, "notebook": EXERCISE, "db_url": "sqlite:///nowhere.db"}}
    nb, _ = ShowDueDate(config=Config()).preprocess(copy.deepcopy(release), resources)
    assert nbformat.writes(nb) == before
    due = Config({"CourseSchedule": {"due_dates": {EXERCISE: "2027-01-15 23:59 UTC"}},
                  "GenerateAssignment": {"no_database": True}})
    nb, _ = ShowDueDate(config=due).preprocess(copy.deepcopy(release), resources)
    assert nb.cells[1].source == "**Due:** 2027-01-15 23:59 UTC", "a cell of its own after the title"
    assert nb.cells[0] == release.cells[0] and nb.cells[2:] == release.cells[1:], "every other cell as released"


# ----------------------------------------------------------------------------- extensions

@pytest.mark.parametrize("text, hours", [("2d", 48), ("36h", 36), ("90m", 1.5), ("1d12h", 36), ("1d 6h 30m", 30.5),
                                         ("48", 48), ("1.5", 1.5), ("0", 0), ("2D", 48)])
def test_extra_time_is_days_hours_minutes_or_a_number_of_hours(text, hours):
    assert parse_extra(text) == datetime.timedelta(hours=hours)


def write_csv(path, text):
    path.write_text(text)
    return path


def test_the_extensions_csv_is_read_with_extra_columns_and_blank_lines_allowed(tmp_path):
    path = write_csv(tmp_path / "extensions.csv", "student,exercise,extra,note\nada,ex01,2d,ill\n\nbo,ex02,36,\n")
    assert read_extensions(path, {"ex01", "ex02"}) == {("ada", "ex01"): datetime.timedelta(days=2),
                                                       ("bo", "ex02"): datetime.timedelta(hours=36)}


@pytest.mark.parametrize("text, message", [
    ("student,exercise,extra\nada,ex01,2d\nbo,ex01,two days\n", r"line 3 \(bo, ex01\): extra time 'two days'"),
    ("student,exercise,extra\nada,ex01,-3\n", r"line 2 \(ada, ex01\): extra time '-3'"),
    ("student,exercise,extra\n,ex01,2d\n", "line 2: empty student"),
    ("student,exercise,extra\nada,ex01,\n", "line 2: empty extra"),
    ("student,exercise,extra\nada,ex01,1d\nada,ex01,2d\n", "line 3: ada has a second extension of ex01 .*line 2"),
    ("student,exercise,extra\nada,ex1,1d\n", "line 2: 'ex1' is not an exercise of the course"),
    ("student,assignment,extra\nada,ex01,1d\n", "must name the columns student,exercise,extra .*missing: exercise"),
    ("", "missing: student, exercise, extra"),
])
def test_a_bad_extensions_row_is_an_error_naming_the_file_and_line(tmp_path, text, message):
    path = write_csv(tmp_path / "extensions.csv", text)
    with pytest.raises(ValueError, match=message) as error:
        read_extensions(path, {"ex01"})
    assert str(path) in str(error.value)


def test_no_extensions_file_at_the_default_name_is_no_extensions_but_a_named_missing_file_is_an_error(tmp_path):
    (tmp_path / "source" / "ex01").mkdir(parents=True)
    root = {"CourseDirectory": {"root": str(tmp_path)}}
    assert CourseSchedule(config=Config(root)).extensions() == {}
    named = CourseSchedule(config=Config({**root, "CourseSchedule": {"extensions_file": "extra-time.csv"}}))
    with pytest.raises(FileNotFoundError, match="extra-time.csv"):
        named.extensions()
    write_csv(tmp_path / "extra-time.csv", "student,exercise,extra\nada,ex01,1d\n")
    assert named.extensions() == {("ada", "ex01"): datetime.timedelta(days=1)}
    assert CourseSchedule(config=Config({**root, "CourseSchedule": {"extensions_file": ""}})).extensions() == {}


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory):
    """The bytes of a new gradebook (made once: nbgrader runs alembic when it creates one)."""
    put_tools_on_path()
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    Gradebook(f"sqlite:///{path}").close()
    return path.read_bytes()


@pytest.fixture
def gradebook(tmp_path, empty_gradebook):
    (tmp_path / "gradebook.db").write_bytes(empty_gradebook)
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment("ex01")
        gb.update_or_create_assignment("ex02")
        for student in ("ada", "bo"):
            gb.update_or_create_student(student)
        gb.update_or_create_submission("ex01", "ada")
        gb.update_or_create_submission("ex02", "ada")
        yield gb


def test_extensions_go_into_nbgraders_extension_field_only_of_submissions_with_a_due_date(gradebook):
    plan = CourseSchedule(config=Config({"CourseSchedule": {"due_dates": {"ex01": "2027-01-15 23:59 UTC"},
                                                             "extensions_file": ""}}))
    extensions = {("ada", "ex01"): datetime.timedelta(days=2), ("bo", "ex01"): datetime.timedelta(hours=3),
                  ("ada", "ex02"): datetime.timedelta(days=1)}
    held = apply_schedule(gradebook, plan, "ex01", ["ada", "bo"], extensions=extensions)
    assert gradebook.find_assignment("ex01").duedate == datetime.datetime(2027, 1, 15, 23, 59)
    assert held == {"ada": datetime.timedelta(days=2)}   # bo has not handed in: no submission row is made for him
    assert [s.student.id for s in gradebook.find_assignment("ex01").submissions] == ["ada"]
    assert gradebook.find_submission("ex01", "ada").duedate == datetime.datetime(2027, 1, 17, 23, 59)
    # ex02 has no due date: nbgrader cannot add an extension to none (its total_seconds_late would fail)
    assert apply_schedule(gradebook, plan, "ex02", ["ada"], extensions=extensions) == {"ada": None}
    assert gradebook.find_submission("ex02", "ada").total_seconds_late == 0
    # "0" takes the extension back; a student the file does not list keeps what the gradebook holds
    assert apply_schedule(gradebook, plan, "ex01", ["ada"], extensions={("ada", "ex01"): datetime.timedelta(0)}) \
        == {"ada": None}
    gradebook.grant_extension("ex01", "ada", hours=5)
    assert apply_schedule(gradebook, plan, "ex01", ["ada"], extensions={}) == {"ada": datetime.timedelta(hours=5)}
    # the engine makes the row of the student it is about to grade
    assert apply_schedule(gradebook, plan, "ex01", ["bo"], extensions=extensions, create=True) == \
        {"bo": datetime.timedelta(hours=3)}


def test_a_due_date_the_schedule_does_not_name_stays_what_the_gradebook_holds(gradebook):
    gradebook.update_or_create_assignment("ex02", duedate="2027-02-01 12:00:00 UTC")
    apply_schedule(gradebook, CourseSchedule(config=Config()), "ex02", ["ada"], extensions={})
    assert gradebook.find_assignment("ex02").duedate == datetime.datetime(2027, 2, 1, 12, 0)


# ----------------------------------------------------------------------------- a course with three students

DUE = "2027-01-16 00:59 Europe/Berlin"                 # 2027-01-15 23:59 UTC
DUE_UTC = datetime.datetime(2027, 1, 15, 23, 59)
STAMPS = {"ontime": "2027-01-15 23:10:00.000000 UTC",
          "excused": "2027-01-17 11:59:00.000000 UTC",   # 36 h late, inside a 2-day extension
          "late": "2027-01-17 11:59:00.000000 UTC"}      # 36 h late: 2 started days, 20 % of 15 points
LATE_PENALTY = 3.0


def late_fields(course):
    """{student: (extension, seconds late, late penalty)} from a course's gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_assignment(EXERCISE).duedate == DUE_UTC
        out = {}
        for submission in gb.find_assignment(EXERCISE).submissions:
            notebook = submission.notebooks[0]
            out[submission.student.id] = (submission.extension, submission.total_seconds_late,
                                          notebook.late_submission_penalty, notebook.score)
        return out


def forget_due_date(course):
    """As if the due date were set (or moved) after the release: grading must bring it into the gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment(EXERCISE, duedate=None)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A temporary course due DUE, excused's 2-day extension in extensions.csv, the three submissions stamped
    as nbgrader stamps them; graded by `dl-course grade` (course) and by plain `nbgrader autograde` (serial)."""
    course = grading.make_course_copy([EXERCISE], target=tmp_path_factory.mktemp("schedule") / "course")
    write_overrides(course, Config({"CourseSchedule": {"due_dates": {EXERCISE: DUE}}}))
    (course / "extensions.csv").write_text("student,exercise,extra,note\nexcused,ex01_numpy_dnn,2d,doctor's note\n")
    grading.nbgrader(course, "generate_assignment", EXERCISE, "--force")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        due_after_release = gb.find_assignment(EXERCISE).duedate
    forget_due_date(course)
    release = nbformat.read(course / "release" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    solved = grading.student_form(nbformat.read(grading.notebook_path(EXERCISE), as_version=4), release)
    for student, stamp in STAMPS.items():
        folder = course / "submitted" / student / EXERCISE
        folder.mkdir(parents=True)
        nbformat.write(solved, folder / f"{EXERCISE}.ipynb")
        (folder / "timestamp.txt").write_text(stamp)
    serial = course.parent / "serial"
    shutil.copytree(course, serial)
    shutil.rmtree(serial / "submitted" / "ontime")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:   # plain nbgrader beside the engine: cores kept busy
        serial_run = pool.submit(grading.nbgrader, serial, "autograde", EXERCISE)
        summary = engine.grade(EXERCISE, course_root=course, workers=2, progress=False)
        log = serial_run.result()
    assert sorted(summary.graded) == sorted(STAMPS) and not summary.failed, summary.failed
    yield {"course": course, "serial": serial, "release": release, "due_after_release": due_after_release,
           "serial_log": log}
    shutil.rmtree(course.parent, ignore_errors=True)


@pytest.mark.grading
def test_the_released_notebook_shows_the_due_date_and_the_gradebook_has_it_from_the_release(course):
    assert course["release"].cells[1].source == "**Due:** 2027-01-16 00:59 Europe/Berlin"
    assert course["due_after_release"] == DUE_UTC


@pytest.mark.grading
def test_dl_course_grade_penalises_the_late_student_and_honours_the_extension(course):
    fields = late_fields(course["course"])
    assert fields["ontime"] == (None, 0, None, 15)
    assert fields["excused"] == (datetime.timedelta(days=2), 0, None, 15)
    assert fields["late"] == (None, 36 * 3600, LATE_PENALTY, 15)


@pytest.mark.grading
def test_plain_nbgrader_autograde_gives_the_same_penalties(course):
    fields = late_fields(course["serial"])
    assert fields["excused"] == (datetime.timedelta(days=2), 0, None, 15)
    assert fields["late"] == (None, 36 * 3600, LATE_PENALTY, 15)
    assert "late: 1 d 12 h late (2 started days after 15 min of grace): 20% of 15 = 3 point(s) taken" in \
        course["serial_log"]


@pytest.mark.grading
def test_grades_csv_has_the_raw_score_the_penalty_and_the_final_score(course):
    from traitlets.utils.importstring import import_item

    from course.coursedir import load_config

    root = course["course"]
    config = load_config(root)   # `nbgrader export`'s plugin, in this process (no nbgrader start-up)
    plugin = import_item(config.ExportApp.plugin_class)(config=config, to=str(root / "grades.csv"))
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        plugin.export(gb)
    with open(root / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert rows["late"]["duedate"] == str(DUE_UTC)
    assert (float(rows["late"]["raw_score"]), float(rows["late"]["late_submission_penalty"]),
            float(rows["late"]["score"])) == (15, LATE_PENALTY, 15 - LATE_PENALTY)
    for student in ("ontime", "excused"):
        assert (float(rows[student]["late_submission_penalty"]), float(rows[student]["score"])) == (0, 15)


@pytest.mark.grading
def test_the_feedback_of_a_late_student_says_how_late_raw_score_penalty_and_final_score(course):
    root = course["course"]
    grading.nbgrader(root, "generate_feedback", EXERCISE)
    late = (root / "feedback" / "late" / EXERCISE / f"{EXERCISE}.html").read_text()
    assert "Late submission penalty (Score: -3.0)" in late                 # nbgrader's own header line
    assert "(Score: 12.0 / 15.0)" in late
    assert ("handed in 1 d 12 h after the due date (2027-01-15 23:59 UTC). Raw score 15 / 15, late penalty "
            "−3, final score 12 / 15.") in late
    excused = (root / "feedback" / "excused" / EXERCISE / f"{EXERCISE}.html").read_text()
    assert "Late submission" not in excused and "(Score: 15.0 / 15.0)" in excused


@pytest.mark.grading
def test_the_report_lists_the_late_submission_with_raw_score_penalty_and_final_score(course):
    page = write_report(EXERCISE, course_root=course["course"]).read_text()
    assert "<h2>Late submissions (1)</h2>" in page
    assert ("<td>late</td><td>2027-01-17 11:59:00 UTC</td><td>1 d 12 h</td><td></td><td>15</td><td>3</td>"
            "<td>12</td>") in page
    assert "mean score 14.00 of 15 after late penalties (raw 15.00)" in page


@pytest.mark.grading
def test_dl_course_schedule_imports_and_prints_the_due_dates_and_extensions(course, capsys):
    from course import cli

    root = course["course"]
    assert cli.main(["schedule", "--course", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"{EXERCISE}: 2027-01-16 00:59 Europe/Berlin (2027-01-15 23:59:00 UTC)" in out
    assert f"excused, {EXERCISE}: 2 d, stored" in out
    (root / "bad.csv").write_text("student,exercise,extra\nexcused,ex01_numpy_dnn,soon\n")
    with pytest.raises(SystemExit, match="bad.csv, line 2 .*extra time 'soon'"):
        cli.main(["schedule", "--course", str(root), "--extensions", str(root / "bad.csv")])
