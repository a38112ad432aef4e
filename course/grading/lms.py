"""Stage *return*: grades and feedback back into Canvas, Moodle and Blackboard, in the files each imports.

`dl-course export EXERCISE... --lms canvas|moodle|blackboard [--out FILE]` writes one grade file that the
LMS's own importer takes unchanged; `dl-course return EXERCISE --lms canvas|moodle|blackboard [--out ZIP]`
packs the feedback HTML for the LMS's bulk upload. The LMS is the one the exercise was collected from
(`dl-course collect` keeps it, with every student's LMS ids, in `reports/<exercise>/intake.csv`) unless
`--lms` names another. `nbgrader export --StatusCsvExport.lms=canvas --to FILE` writes the same grade file.

What each LMS reads (the rules of its importer, which the tests check the files against):

- **Canvas**, Grades > Import: header `Student,ID,SIS User ID,SIS Login ID,Section,<title> (<assignment id>)`,
  a `Points Possible` row, then one row per student matched by the Canvas user `ID` (from the upload names
  of the intake, else the roster's `lms_user_id`); `EX` excuses a student. Feedback: Assignment > Download
  Submissions' names carry the user id and the submission's attachment id, the first two all-digit parts
  between underscores; *Re-Upload Submissions* attaches each file of a zip named that way as a comment.
- **Moodle**, assignment > Upload grading worksheet: the columns `Identifier` (`Participant <id>`, the
  participant id in the download's folder names), `Grade` and `Last modified (grade)` are required; a
  blank grade is skipped, a grade above the assignment's maximum is skipped, a grade changed in Moodle
  after `Last modified (grade)` is skipped unless the instructor ticks "allow updating records that have
  been modified more recently". `Feedback comments` becomes the feedback comment. Feedback files:
  *Upload multiple feedback files in a zip*, one folder per student named as in the download,
  `<Full name>_<participant id>_assignsubmission_file_/`.
- **Blackboard**, Grade Center > Work Offline > Upload: students by `Username`, the column by the id after
  `|` in `<title> [Total Pts: <points> Score] |<column id>`; comma-delimited `.csv` with every value quoted,
  or tab-delimited `.xls`/`.txt` (written as UTF-16 with a byte-order mark, as Blackboard's own download).
  Blackboard has no bulk feedback upload: `return` writes one folder per student to attach by hand.

The status rules are `course.grading.grades.grade_rows`'s, the same in all three: graded and rejected
(0, the reason as comment) are written; missing is not written (0 with `c.LmsExport.missing_as_zero`);
flagged is held back, listed on screen, until the flag is cleared; manual scores and Formgrader overrides
are in the score. Ids only the LMS knows (Canvas assignment ids, Blackboard column ids) and the header
texts Moodle translates are `c.LmsExport` settings in nbgrader_config.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Bool, Dict
from traitlets.config import Configurable

from .grades import grade_rows

LMS_NAMES = {"canvas": "Canvas", "moodle": "Moodle", "blackboard": "Blackboard"}
CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_HEADERS = {"identifier": "Identifier", "full_name": "Full name", "email": "Email address",
                  "grade": "Grade", "maximum": "Maximum Grade", "can_change": "Grade can be changed",
                  "modified_submission": "Last modified (submission)", "modified_grade": "Last modified (grade)",
                  "feedback": "Feedback comments", "participant": "Participant ", "yes": "Yes"}
BLACKBOARD_STUDENT_COLUMNS = ["Last Name", "First Name", "Username"]


class LmsExport(Configurable):
    """What only the LMS knows, for `dl-course export --lms` and `dl-course return`."""

    canvas_assignment_ids = Dict(help="{exercise: Canvas assignment id}, the number in the assignment's URL "
                                      "(/courses/<course>/assignments/<id>)").tag(config=True)
    blackboard_column_ids = Dict(help="{exercise: Blackboard Grade Center column id}, the number after '|' in "
                                      "the column's header of a Grade Center download").tag(config=True)
    titles = Dict(help="{exercise: the assignment's title in the LMS} (default: the exercise name)").tag(config=True)
    points = Dict(help="{exercise: points possible in the LMS} when they differ from the exercise's: scores are "
                       "scaled to them (Moodle skips a grade above the assignment's maximum)").tag(config=True)
    moodle_headers = Dict(help=f"Moodle's column names, for a Moodle in another language: keys "
                               f"{sorted(MOODLE_HEADERS)} (default: English)").tag(config=True)
    missing_as_zero = Bool(False, help="write 0 for a student who submitted nothing (default: write nothing, "
                                       "which leaves the LMS's grade as it is)").tag(config=True)
    excused = Dict(help="{exercise: [student ids]} excused: Canvas gets EX, the other LMSs nothing").tag(config=True)


@dataclass
class Identity:
    """A student's ids in one LMS for one exercise, from the intake report (or the roster)."""
    user_id: str = ""          # Canvas user id, Moodle participant id, Blackboard user name
    submission_id: str = ""    # Canvas attachment id of the graded upload
    name: str = ""             # the name as the LMS wrote it


@dataclass
class Outcome:
    """What an export or a return wrote: the file, who is in it, and who is not, with why."""
    lms: str
    path: Path
    written: list = field(default_factory=list)       # [(student, exercise, value)]
    held_back: list = field(default_factory=list)     # [(student, exercise, why)]
    note: str = ""

    def lines(self):
        held = [f"  not written: {s} ({e}): {why}" for s, e, why in self.held_back]
        return held + ([self.note] if self.note else []) + [
            f"{LMS_NAMES[self.lms]}: {len(self.written)} written, {len(self.held_back)} not written -> {self.path}"]


def intake_identities(root, exercise, lms):
    """{student: Identity} from the exercise's intake report, for the students collected from `lms`."""
    path = Path(root, "reports", exercise, "intake.csv")
    found = {}
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("lms") == lms and row.get("lms_user_id"):
                    found[row["student"]] = Identity(row["lms_user_id"], row.get("lms_submission_id", ""),
                                                     row.get("lms_name", ""))
    return found


def collected_from(root, exercises):
    """The LMS most of the exercises' students were collected from (intake reports), or a ValueError."""
    counts = Counter()
    for exercise in exercises:
        path = Path(root, "reports", exercise, "intake.csv")
        if path.is_file():
            with open(path, newline="", encoding="utf-8") as handle:
                counts.update(row["lms"] for row in csv.DictReader(handle) if row.get("lms") in LMS_NAMES)
    if not counts:
        raise ValueError(f"no intake report of {', '.join(exercises)} names an LMS (they were not collected with "
                         f"`dl-course collect` from an LMS download): give --lms canvas, moodle or blackboard")
    return counts.most_common(1)[0][0]


# --------------------------------------------------------------------------- grades

def _settings(config):
    return LmsExport(config=config)


def _title(settings, exercise):
    return settings.titles.get(exercise, exercise)


def points(settings, exercise, max_score):
    return float(settings.points.get(exercise, max_score))


def _scaled(value, settings, exercise, max_score):
    possible = points(settings, exercise, max_score)
    return round(value * possible / max_score, 2) if max_score else value


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def comment(row):
    """The short text a student sees in the LMS beside the grade."""
    if row.status == "rejected":
        return f"0 points: the submission could not be graded ({row.reason})"
    if row.status == "missing":
        return "0 points: nothing was submitted"
    parts = [f"{_number(row.tests_score)}/{_number(row.max_score)} points"]
    if row.penalty:
        parts.append(f"{_number(row.raw_score)} before a late penalty of {_number(row.penalty)}")
    return "; ".join(parts) + "; the feedback file has every test"


def decide(row, settings, lms):
    """(value to write or None, why not written) for `lms` (a grade file's or "lti"), the rules of every export."""
    if row.student in settings.excused.get(row.assignment, []):
        return ("EX", "") if lms == "canvas" else (None, "excused")
    if row.status == "flagged":
        return None, (f"flagged for review, held back until cleared (dl-course flags {row.assignment} --clear "
                      f"{row.student}): {row.reason}")
    if row.status == "missing":
        return (0.0, "") if settings.missing_as_zero else (None, "missing: nothing submitted")
    return _scaled(row.score, settings, row.assignment, row.max_score), ""


def _check_ids(settings, lms, exercises):
    trait, what = {"canvas": ("canvas_assignment_ids", "Canvas assignment id (the number in the assignment's "
                                                       "URL, /courses/<course>/assignments/<id>)"),
                   "blackboard": ("blackboard_column_ids", "Blackboard column id (the number after '|' in the "
                                                           "column's header of a Grade Center download)")}.get(lms, (None, None))
    if trait:
        missing = [e for e in exercises if e not in getattr(settings, trait)]
        if missing:
            raise ValueError(f"c.LmsExport.{trait} in nbgrader_config.py has no {what} for {', '.join(missing)}; "
                             f"e.g. c.LmsExport.{trait} = {{{missing[0]!r}: 123456}}")


def write_grades(gradebook, coursedir, lms, exercises, out, config=None):
    """Write the grade file of `exercises` for `lms` to `out` from an open gradebook; returns an Outcome."""
    if lms not in LMS_NAMES:
        raise ValueError(f"unknown LMS {lms!r}: expected one of {', '.join(LMS_NAMES)}")
    settings = _settings(config if config is not None else coursedir.config)
    known = {a.name for a in gradebook.assignments}
    unknown = [e for e in exercises if e not in known]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not in the gradebook (generate and grade it first)")
    if lms == "moodle" and len(exercises) != 1:
        raise ValueError("a Moodle grading worksheet holds one assignment: export one exercise at a time")
    _check_ids(settings, lms, exercises)
    rows = list(grade_rows(gradebook, coursedir, exercises))
    outcome = Outcome(lms, Path(out))
    writer = {"canvas": _write_canvas, "moodle": _write_moodle, "blackboard": _write_blackboard}[lms]
    writer(rows, exercises, settings, coursedir, outcome)
    return outcome


def _identity(root, exercise, lms, row, cache):
    if (exercise, lms) not in cache:
        cache[exercise, lms] = intake_identities(root, exercise, lms)
    found = cache[exercise, lms].get(row.student)
    if found:
        return found
    if lms in ("canvas", "blackboard") and row.lms_user_id:   # the roster's id (not Moodle's: per assignment)
        return Identity(row.lms_user_id)
    return None


def _write_canvas(rows, exercises, settings, coursedir, outcome):
    header = CANVAS_STUDENT_COLUMNS + [f"{_title(settings, e)} ({settings.canvas_assignment_ids[e]})" for e in exercises]
    maxima = {r.assignment: r.max_score for r in rows}
    possible = ["Points Possible", "", "", "", ""] + [_number(points(settings, e, maxima.get(e, 0))) for e in exercises]
    students, cache = {}, {}
    for row in rows:
        value, why = decide(row, settings, "canvas")
        identity = _identity(coursedir.root, row.assignment, "canvas", row, cache)
        if value is not None and identity is None:
            value, why = None, "no Canvas user id (collect from a Canvas download, or give the roster's lms_user_id)"
        entry = students.setdefault(row.student, {"row": row, "id": None, "values": {}})
        entry["id"] = entry["id"] or (identity.user_id if identity else None)
        if value is None:
            outcome.held_back.append((row.student, row.assignment, why))
        else:
            entry["values"][row.assignment] = value
            outcome.written.append((row.student, row.assignment, value))
    lines = [header, possible]
    for student, entry in sorted(students.items(), key=lambda item: item[1]["row"].display_name):
        if entry["values"]:
            row = entry["row"]
            lines.append([row.display_name, entry["id"], "", "", ""]
                         + [_number(entry["values"][e]) if e in entry["values"] else "" for e in exercises])
    _write_csv(outcome.path, lines)


def _write_moodle(rows, exercises, settings, coursedir, outcome):
    h = {**MOODLE_HEADERS, **settings.moodle_headers}
    unknown = sorted(set(settings.moodle_headers) - set(MOODLE_HEADERS))
    if unknown:
        raise ValueError(f"c.LmsExport.moodle_headers: unknown keys {unknown}; expected some of {sorted(MOODLE_HEADERS)}")
    header = [h[k] for k in ("identifier", "full_name", "email", "grade", "maximum", "can_change",
                             "modified_submission", "modified_grade", "feedback")]
    exported = _moodle_time(dt.datetime.now(dt.timezone.utc))
    lines, cache = [header], {}
    for row in sorted(rows, key=lambda row: row.display_name):
        value, why = decide(row, settings, "moodle")
        identity = _identity(coursedir.root, row.assignment, "moodle", row, cache)
        if value is not None and identity is None:
            value, why = None, "no Moodle participant id (collect the exercise from its Moodle download first)"
        if value is None:
            outcome.held_back.append((row.student, row.assignment, why))
            continue
        full_name = " ".join(filter(None, [row.first_name, row.last_name])) or identity.name or row.student
        submitted = _moodle_time(row.timestamp) if row.timestamp else "-"
        lines.append([f"{h['participant']}{identity.user_id}", full_name, row.email, _number(value),
                      _number(points(settings, row.assignment, row.max_score)), h["yes"], submitted, exported,
                      comment(row)])
        outcome.written.append((row.student, row.assignment, value))
    _write_csv(outcome.path, lines)


def _moodle_time(when):
    """A time as PHP's strtotime reads it unambiguously (Moodle parses `Last modified` with it)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _write_blackboard(rows, exercises, settings, coursedir, outcome):
    maxima = {r.assignment: r.max_score for r in rows}
    header = BLACKBOARD_STUDENT_COLUMNS + [
        f"{_title(settings, e)} [Total Pts: {_number(points(settings, e, maxima.get(e, 0)))} Score] "
        f"|{settings.blackboard_column_ids[e]}" for e in exercises]
    students, cache = {}, {}
    for row in rows:
        value, why = decide(row, settings, "blackboard")
        identity = _identity(coursedir.root, row.assignment, "blackboard", row, cache)
        entry = students.setdefault(row.student, {"row": row, "username": row.student, "values": {}})
        if identity:   # the Blackboard user name from the upload names or the roster, else the course's id
            entry["username"] = identity.user_id
        if value is None:
            outcome.held_back.append((row.student, row.assignment, why))
        else:
            entry["values"][row.assignment] = value
            outcome.written.append((row.student, row.assignment, value))
    lines = [header]
    for student, entry in sorted(students.items(), key=lambda item: item[1]["row"].display_name):
        if entry["values"]:
            row = entry["row"]
            lines.append([row.last_name, row.first_name, entry["username"]]
                         + [_number(entry["values"][e]) if e in entry["values"] else "" for e in exercises])
    if outcome.path.suffix.lower() in (".xls", ".txt"):
        text = io.StringIO()
        csv.writer(text, delimiter="\t", lineterminator="\r\n").writerows(lines)
        outcome.path.parent.mkdir(parents=True, exist_ok=True)
        outcome.path.write_bytes(b"\xff\xfe" + text.getvalue().encode("utf-16-le"))
    else:
        _write_csv(outcome.path, lines, quoting=csv.QUOTE_ALL)


def _write_csv(path, lines, quoting=csv.QUOTE_MINIMAL):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, quoting=quoting, lineterminator="\r\n").writerows(lines)


def export_grades(exercises, lms=None, course_root=".", out=None):
    """`dl-course export`: the grade file of `exercises` for `lms` (default: the LMS they were collected from)."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    from course.coursedir import load_config

    root = Path(course_root).resolve()
    config = load_config(root)
    lms = lms or collected_from(root, exercises)
    default = root / "reports" / (exercises[0] if len(exercises) == 1 else "") / f"{lms}-grades.csv"
    coursedir = CourseDirectory(config=config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        return write_grades(gradebook, coursedir, lms, list(exercises), Path(out) if out else default, config)


# --------------------------------------------------------------------------- feedback

def return_feedback(exercise, lms=None, course_root=".", out=None):
    """`dl-course return`: every student's feedback HTML packed for the LMS's bulk upload (Canvas, Moodle),
    or one folder per student (Blackboard); returns an Outcome listing who is left out and why."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    from course.coursedir import load_config

    root = Path(course_root).resolve()
    config = load_config(root)
    lms = lms or collected_from(root, [exercise])
    if lms not in LMS_NAMES:
        raise ValueError(f"unknown LMS {lms!r}: expected one of {', '.join(LMS_NAMES)}")
    coursedir = CourseDirectory(config=config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        if exercise not in {a.name for a in gradebook.assignments}:
            raise ValueError(f"{exercise}: not in the gradebook (generate and grade it first)")
        rows = list(grade_rows(gradebook, coursedir, [exercise]))
    suffix = "feedback" if lms == "blackboard" else "feedback.zip"
    outcome = Outcome(lms, Path(out) if out else root / "reports" / exercise / f"{lms}-{suffix}")
    identities = intake_identities(root, exercise, lms)
    files = {}   # {name in the zip or folder: bytes}
    for row in sorted(rows, key=lambda r: r.student):
        folder = Path(coursedir.format_path(coursedir.feedback_directory, row.student, exercise))
        pages = sorted(folder.glob("*.html"))
        why = _left_out(row, pages, identities.get(row.student), lms, exercise)
        if why:
            outcome.held_back.append((row.student, exercise, why))
            continue
        identity = identities.get(row.student) or Identity(row.lms_user_id or row.student)
        for page in pages:
            files[_feedback_name(lms, identity, page.stem)] = page.read_bytes()
        outcome.written.append((row.student, exercise, len(pages)))
    if lms == "blackboard":
        for name, data in files.items():
            (outcome.path / name).parent.mkdir(parents=True, exist_ok=True)
            (outcome.path / name).write_bytes(data)
        outcome.note = ("Blackboard has no bulk feedback upload: attach each student's file in the Grade Center "
                        "(the cell's menu > View Grade Details > Feedback to Learner).")
    else:
        outcome.path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(outcome.path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in sorted(files.items()):
                archive.writestr(name, data)
    return outcome


def _left_out(row, pages, identity, lms, exercise):
    """Why a student's feedback is not packed ("" when it is)."""
    if row.status == "missing":
        return "nothing submitted"
    if row.status == "rejected":
        return f"rejected, no feedback: {row.reason}"
    if row.status == "flagged":
        return f"flagged for review, held back until cleared: {row.reason}"
    if not pages:
        return f"no feedback generated yet (nbgrader generate_feedback {exercise})"
    if lms == "canvas" and not (identity and identity.submission_id):
        return "no Canvas upload in the intake report (Canvas matches feedback by the upload's attachment id)"
    if lms == "moodle" and not identity:
        return "no Moodle participant id (collect the exercise from its Moodle download first)"
    return ""


def _feedback_name(lms, identity, notebook):
    if lms == "canvas":   # <name>_<user id>_<attachment id>_<file>: Canvas reads the first two numbers
        return f"{identity.name or 'student'}_{identity.user_id}_{identity.submission_id}_{notebook}-feedback.html"
    if lms == "moodle":   # the folder of the student's download: <Full name>_<participant id>_<plugin>_
        name = (identity.name or "Participant").replace("_", " ")
        return f"{name}_{identity.user_id}_assignsubmission_file_/{notebook}-feedback.html"
    return f"{identity.user_id}/{notebook}-feedback.html"
