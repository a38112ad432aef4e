"""Due dates, late penalties and per-student extensions, kept in nbgrader's own gradebook fields.

One place for each fact:

- **due dates**: `c.CourseSchedule.due_dates` in nbgrader_config.py, `{exercise: "YYYY-MM-DD HH:MM[:SS] ZONE"}`
  (ZONE: `UTC`, an IANA name such as `Europe/Berlin`, or an offset such as `+01:00`). They become nbgrader's
  `Assignment.duedate` (naive UTC, as nbgrader stores it);
- **extensions**: a CSV (`c.CourseSchedule.extensions_file`, default `extensions.csv` in the course root) with
  the columns `student,exercise,extra` (more columns, a note say, are kept for the reader and ignored); `extra`
  is `2d`, `36h`, `90m`, a sum of those (`1d12h`) or a bare number of hours (`48`, `1.5`); `0` takes an
  extension back. They become nbgrader's `SubmittedAssignment.extension`, which nbgrader adds to the due
  date in `total_seconds_late`;
- **the penalty**: `PerDayLatePenalty`, nbgrader's late-submission plugin (`c.AssignLatePenalties.plugin_class`).

Where they reach the gradebook: the due date when `nbgrader generate_assignment` runs (`ShowDueDate`), and
both again at grading (`ApplySchedule`, an autograde preprocessor placed before nbgrader's
`AssignLatePenalties`): in every `nbgrader autograde` (and the Formgrader's) for the submission being graded,
and in `dl-course grade`, whose main process imports them into the real gradebook and sends each worker its
student's extension (`import_schedule`, `prepare_worker`); `dl-course schedule` on demand. A due date that
the schedule does not name, and an extension that the CSV does not list, stay what the gradebook holds
(`nbgrader db assignment add --duedate`, `Gradebook.grant_extension`). `ShowDueDate` also writes the due date
into the released notebook's title cell; `ExplainLatePenalty` tells a late student, in the feedback, how late,
the raw score, the penalty and the final score.
"""

from __future__ import annotations

import csv
import datetime
import math
import re
from dataclasses import dataclass
from pathlib import Path

from dateutil import tz as dateutil_tz
from nbformat.v4 import new_markdown_cell
from traitlets import Dict, Enum, Float, Unicode, validate
from traitlets.config import Configurable

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor

from .feedback import HTMLPreprocessor

DUE_FORMAT = ("'YYYY-MM-DD HH:MM[:SS] ZONE', ZONE being UTC, an IANA time zone such as Europe/Berlin, or an "
              "offset such as +01:00 (e.g. '2027-01-15 23:59:00 UTC')")
EXTRA_FORMAT = "a duration such as 2d, 36h, 90m or 1d12h, or a number of hours such as 48 or 1.5 (0: no extension)"
COLUMNS = ("student", "exercise", "extra")
DAY_S = 24 * 3600

_DUE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)\s+(\S+)$")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhm])", re.IGNORECASE)
_UNIT_S = {"d": DAY_S, "h": 3600, "m": 60}


# ----------------------------------------------------------------------------- parsing

@dataclass(frozen=True)
class DueDate:
    """A due date: `utc` as nbgrader stores it (naive UTC), `local` and `zone` as the course wrote it."""
    utc: datetime.datetime
    local: datetime.datetime
    zone: str

    def display(self):
        """`2027-01-15 23:59 UTC` (seconds only when they are not zero), in the zone the course wrote."""
        shown = self.local.strftime("%Y-%m-%d %H:%M" + (":%S" if self.local.second else ""))
        return f"{shown} {self.zone}"


def parse_due_date(exercise, text):
    """A DueDate from the text of `c.CourseSchedule.due_dates[exercise]`; ValueError naming the exercise."""
    def fail(why):
        return ValueError(f"c.CourseSchedule.due_dates[{exercise!r}] = {text!r}: {why}; expected {DUE_FORMAT}")

    match = _DUE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        no_zone = isinstance(text, str) and re.match(r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2})?$", text.strip())
        raise fail("no time zone" if no_zone else "not a date, a time and a time zone")
    day, clock, zone = match.groups()
    try:
        naive = datetime.datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S" if clock.count(":") == 2
                                           else "%Y-%m-%d %H:%M")
    except ValueError as error:
        raise fail(str(error)) from None
    offset = _OFFSET.match(zone)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = datetime.timedelta(hours=int(hours), minutes=int(minutes))
        tzinfo = datetime.timezone(delta if sign == "+" else -delta)
        zone = f"{sign}{hours}:{minutes}"
    elif zone.upper() in ("UTC", "Z", "GMT"):
        tzinfo, zone = datetime.timezone.utc, "UTC"
    else:
        tzinfo = dateutil_tz.gettz(zone)
        if tzinfo is None or isinstance(tzinfo, dateutil_tz.tzstr):   # not a zone, or a POSIX TZ string
            raise fail(f"unknown time zone {zone!r}")
    local = naive.replace(tzinfo=tzinfo)
    utc = local.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return DueDate(utc=utc, local=naive, zone=zone)


def parse_extra(text):
    """A timedelta from an extension's `extra` (2d, 36h, 90m, 1d12h, or hours: 48, 1.5); ValueError otherwise."""
    value = str(text).strip()
    if not value:
        raise ValueError(f"empty extra time; expected {EXTRA_FORMAT}")
    try:
        hours = float(value)
    except ValueError:
        compact = re.sub(r"\s+", "", value)
        parts = _PART.findall(compact)
        if not parts or "".join(f"{n}{u}" for n, u in parts).lower() != compact.lower():
            raise ValueError(f"extra time {value!r} is not {EXTRA_FORMAT}") from None
        seconds = sum(float(n) * _UNIT_S[u.lower()] for n, u in parts)
    else:
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"extra time {value!r} is not {EXTRA_FORMAT}")
        seconds = hours * 3600
    return datetime.timedelta(seconds=round(seconds))


def read_extensions(path, exercises=None):
    """{(student, exercise): timedelta} from an extensions CSV (the timedelta is zero for `0`: no extension).
    ValueError naming the file and line for a missing column, an empty field, a bad extra time, a row listed
    twice, or (when `exercises` is given) an exercise the course does not have."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise ValueError(f"{path}: the first line must name the columns {','.join(COLUMNS)} "
                             f"(missing: {', '.join(missing)}; found: {','.join(header) or 'nothing'})")
        reader.fieldnames = header
        extensions, seen = {}, {}
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            values = {name: (row.get(name) or "").strip() for name in COLUMNS}
            if not any(values.values()):
                continue   # a blank line
            empty = [name for name in COLUMNS if not values[name]]
            if empty:
                raise ValueError(f"{where}: empty {', '.join(empty)} in {','.join(values.values())!r}")
            key = (values["student"], values["exercise"])
            if key in seen:
                raise ValueError(f"{where}: {key[0]} has a second extension of {key[1]} (the first is on line "
                                 f"{seen[key]}); keep one row")
            if exercises is not None and key[1] not in exercises:
                raise ValueError(f"{where}: {key[1]!r} is not an exercise of the course "
                                 f"({', '.join(sorted(exercises))})")
            try:
                extensions[key] = parse_extra(values["extra"])
            except ValueError as error:
                raise ValueError(f"{where} ({key[0]}, {key[1]}): {error}") from None
            seen[key] = reader.line_num
    return extensions


# ----------------------------------------------------------------------------- the schedule

class CourseSchedule(Configurable):
    """Due dates and the extensions file (`c.CourseSchedule.*` in nbgrader_config.py)."""

    due_dates = Dict(
        key_trait=Unicode(), value_trait=Unicode(),
        help=f"Due date of each exercise: {{exercise: {DUE_FORMAT}}}. An exercise left out keeps the due date "
             "the gradebook has (none, unless set with `nbgrader db assignment add --duedate`).").tag(config=True)
    extensions_file = Unicode(
        "extensions.csv",
        help="CSV of extensions (student,exercise,extra), relative to the course root; a missing file at the "
             "default name means no extensions, a missing file named here is an error; '' reads none.").tag(config=True)

    @validate("due_dates")
    def _check_due_dates(self, proposal):
        for exercise, text in proposal["value"].items():
            parse_due_date(exercise, text)
        return proposal["value"]

    def due_date(self, exercise):
        """The exercise's DueDate, or None when the schedule names none."""
        return parse_due_date(exercise, self.due_dates[exercise]) if exercise in self.due_dates else None

    def course_root(self):
        return Path(CourseDirectory(config=self.config).root)

    def extensions_path(self):
        """The extensions CSV to read, or None (none named, or the default name and no such file)."""
        if not self.extensions_file:
            return None
        path = Path(self.extensions_file)
        path = path if path.is_absolute() else self.course_root() / path
        if not path.is_file():
            if self.extensions_file == self.traits()["extensions_file"].default_value:
                return None
            raise FileNotFoundError(f"c.CourseSchedule.extensions_file = {self.extensions_file!r}: no such file "
                                    f"({path})")
        return path

    def exercises(self):
        """The course's exercises: source/ and release/ folders, and the exercises with a due date."""
        coursedir = CourseDirectory(config=self.config)
        root = self.course_root()
        names = set(self.due_dates)
        for kind in (coursedir.source_directory, coursedir.release_directory):
            folder = root / kind
            if folder.is_dir():
                names |= {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}
        return names

    def extensions(self):
        """{(student, exercise): timedelta} of the extensions file ({} when there is none)."""
        path = self.extensions_path()
        return read_extensions(path, self.exercises()) if path else {}


def _gradebook(config):
    coursedir = CourseDirectory(config=config)
    return Gradebook(coursedir.db_url, coursedir.course_id)


def apply_schedule(gb, schedule, exercise, students=(), extensions=None, create=False, log=None):
    """Write the exercise's due date (when the schedule names one) and the listed extensions of `students`
    into gradebook `gb`; returns {student: the extension the gradebook now holds (timedelta or None)} for
    the students who have a submission. `create`: make the student's submission row first (the engine, just
    before grading it); otherwise a student without a submission is left out (nbgrader keeps an extension on
    the submission, and a submission row would make a student who has not handed in look submitted)."""
    extensions = schedule.extensions() if extensions is None else extensions
    due = schedule.due_date(exercise)
    try:
        assignment = gb.find_assignment(exercise)
    except MissingEntry:
        if due is None:
            return {}
        assignment = gb.update_or_create_assignment(exercise, duedate=due.utc)
    if due is not None and assignment.duedate != due.utc:
        gb.update_or_create_assignment(exercise, duedate=due.utc)
    held = {}
    for student in students:
        extra = extensions.get((student, exercise))
        if create and extra is not None:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(exercise, student)
        try:
            submission = gb.find_submission(exercise, student)
        except MissingEntry:
            continue
        if extra is not None:
            if assignment.duedate is None and extra:
                if log:
                    log.warning("%s: the extension of %s for %s is not stored: %s has no due date", student,
                                extra, exercise, exercise)
            else:
                submission.extension = extra or None
                gb.db.commit()
        held[student] = submission.extension
    return held


def import_schedule(config, exercise, students=(), create=True, log=None):
    """`apply_schedule` on the course's gradebook (nbgrader_config.py's schedule); the engine calls it before
    it packs the jobs, and sends each worker its student's extension."""
    schedule = CourseSchedule(config=config)
    with _gradebook(config) as gb:
        return apply_schedule(gb, schedule, exercise, students, create=create, log=log)


def prepare_worker(config, exercise, student, extension):
    """In a `dl-course grade` worker: the main process sent the student's extension (the worker's course
    copy has no extensions file), so the worker's gradebook gets it and its ApplySchedule reads no file."""
    config.CourseSchedule.extensions_file = ""
    if extension:
        with _gradebook(config) as gb:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(exercise, student, extension=extension)


class ApplySchedule(NbGraderPreprocessor):
    """Autograde preprocessor (before nbgrader's AssignLatePenalties): the due date and the student's
    extension into the gradebook, so that nbgrader's `total_seconds_late` counts from the right moment."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        schedule = CourseSchedule(config=self.config)
        with Gradebook(info["db_url"], CourseDirectory(config=self.config).course_id) as gb:
            held = apply_schedule(gb, schedule, info["assignment"], [info["student"]], log=self.log)
            submission = gb.find_submission(info["assignment"], info["student"])
            due = submission.duedate
            if due is not None:
                self.log.info("%s: due %s UTC%s; %s", info["student"], due,
                              f" (extension {held.get(info['student'])})" if held.get(info["student"]) else "",
                              f"{describe_duration(submission.total_seconds_late)} late"
                              if submission.total_seconds_late else "on time")
        return nb, resources


# ----------------------------------------------------------------------------- the penalty

def started_days_late(seconds_late, grace_minutes):
    """Started days of lateness: 0 up to and including the grace period after the (extended) due date,
    then 1 for anything up to 24 h after it, 2 up to 48 h ... (days count from the due date, not from
    the end of the grace period)."""
    if seconds_late <= grace_minutes * 60:
        return 0
    return max(1, math.ceil(seconds_late / DAY_S))


def penalty_share(days, share_per_day, cap):
    """The share of the score taken: `share_per_day` per started day, at most `cap`."""
    return round(min(cap, days * share_per_day), 10)


def late_penalty(score, seconds_late, share_per_day=0.10, cap=0.50, grace_minutes=15):
    """Points taken from a notebook's score (rounded to 6 decimals, floating-point noise only)."""
    share = penalty_share(started_days_late(seconds_late, grace_minutes), share_per_day, cap)
    return round(max(0.0, score or 0.0) * share, 6)


def _fraction(trait_name):
    def check(self, proposal):
        value = proposal["value"]
        if not 0 <= value <= 1:
            raise ValueError(f"c.{type(self).__name__}.{trait_name} = {value!r}: must be between 0 and 1")
        return value
    return validate(trait_name)(check)


class PerDayLatePenalty(LateSubmissionPlugin):
    """nbgrader's late-submission plugin: a share of the notebook's score per started day late, with a cap
    and a grace period. nbgrader calls it with the score only (not the maximum), once per notebook, with the
    seconds after the due date plus the student's extension."""

    penalty_method = Enum(("per_day", "zero", "none"), default_value="per_day",
                          help="'per_day': share_per_day of the score per started day late, at most cap; "
                               "'zero': late work scores 0 (nbgrader's); 'none': no penalty.").tag(config=True)
    share_per_day = Float(0.10, help="Share of the notebook's score taken per started day late (0..1)."
                          ).tag(config=True)
    cap = Float(0.50, help="The largest share taken, however late (0..1).").tag(config=True)
    grace_minutes = Float(15, help="Minutes after the due date (and extension) that still count as on time."
                          ).tag(config=True)

    _check_share = _fraction("share_per_day")
    _check_cap = _fraction("cap")

    @validate("grace_minutes")
    def _check_grace(self, proposal):
        if proposal["value"] < 0:
            raise ValueError(f"c.PerDayLatePenalty.grace_minutes = {proposal['value']!r}: must be 0 or more")
        return proposal["value"]

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        if self.penalty_method == "none":
            return None
        if self.penalty_method == "zero":
            return score
        days = started_days_late(total_seconds_late, self.grace_minutes)
        penalty = late_penalty(score, total_seconds_late, self.share_per_day, self.cap, self.grace_minutes)
        self.log.warning("%s: %s late (%d started day%s after %g min of grace): %g%% of %g = %g point(s) taken",
                         student_id, describe_duration(total_seconds_late), days, "" if days == 1 else "s",
                         self.grace_minutes, 100 * penalty_share(days, self.share_per_day, self.cap), score or 0,
                         penalty)
        return penalty


def describe_duration(seconds):
    """`1 d 2 h 5 min`, `40 s` (whole seconds)."""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, DAY_S)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts) if parts else f"{secs} s"


# ----------------------------------------------------------------------------- release and feedback

DUE_CELL = "due_date"   # the id of the released notebook's due-date cell


class ShowDueDate(NbGraderPreprocessor):
    """Generate-assignment preprocessor: the exercise's due date in a cell of its own right after the title
    cell, and in the gradebook (as `nbgrader db assignment add --duedate` would; not with `--no-db`), so the
    Formgrader and `nbgrader collect --before-duedate` know it from the release on. The title cell is locked
    and checksummed: a due date moved after the release must not make every student's title cell look
    changed (flagged), so the date is an ordinary Markdown cell that grading ignores. Without a due date the
    notebook and the gradebook are left exactly as they are."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        due = CourseSchedule(config=self.config).due_date(info["assignment"])
        if due is None:
            return nb, resources
        if not self.config.GenerateAssignment.get("no_database", False) and info.get("db_url"):
            with Gradebook(info["db_url"], CourseDirectory(config=self.config).course_id) as gb:
                gb.update_or_create_assignment(info["assignment"], duedate=due.utc)
        cell = new_markdown_cell(f"**Due:** {due.display()}")
        cell.id = DUE_CELL
        nb.cells = [c for c in nb.cells if c.get("id") != DUE_CELL]
        first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
        nb.cells.insert(first + 1, cell)
        return nb, resources


class ExplainLatePenalty(HTMLPreprocessor):   # generate_feedback: see HTMLPreprocessor
    """Feedback preprocessor (after nbgrader's GetGrades): for a late notebook, a first cell saying how late
    it was handed in, the raw score, the late penalty and the final score (nbgrader's header shows the final
    score and the penalty only). A notebook without a penalty is left as it is."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        penalty = info.get("late_penalty") or 0
        if penalty <= 0:
            return nb, resources
        with Gradebook(info["db_url"]) as gb:
            submission = gb.find_submission(info["assignment"], info["student"])
            late, due, extension = submission.total_seconds_late, submission.assignment.duedate, submission.extension
        final, maximum = info["score"], info["max_score"]
        raw = final + penalty
        given = f", with an extension of {describe_duration(extension.total_seconds())}" if extension else ""
        when = f" ({due:%Y-%m-%d %H:%M} UTC{given})" if due is not None else ""
        text = (f"**Late submission:** handed in {describe_duration(late)} after the due date{when}. "
                f"Raw score {raw:g} / {maximum:g}, late penalty "
                f"−{penalty:g}, final score {final:g} / {maximum:g}.")
        nb.cells.insert(0, new_markdown_cell(text))
        return nb, resources


def format_schedule(config, extensions_file=None):
    """`dl-course schedule`: import the due dates and extensions into the gradebook; the lines to print."""
    schedule = CourseSchedule(config=config)
    if extensions_file is not None:
        schedule.extensions_file = str(Path(extensions_file).resolve())
    extensions = schedule.extensions()
    lines = ["Due dates:"]
    stored = {}
    with _gradebook(config) as gb:
        exercises = sorted(set(schedule.due_dates) | {a.name for a in gb.assignments} | {e for _, e in extensions})
        for exercise in exercises:
            students = sorted(s for s, e in extensions if e == exercise)
            stored.update({(s, exercise): x for s, x in apply_schedule(gb, schedule, exercise, students,
                                                                          extensions=extensions).items()})
            due = schedule.due_date(exercise)
            try:
                in_gradebook = gb.find_assignment(exercise).duedate
            except MissingEntry:
                in_gradebook = None
            if due is not None:
                lines.append(f"  {exercise}: {due.display()} ({due.utc:%Y-%m-%d %H:%M:%S} UTC)")
            elif in_gradebook is not None:
                lines.append(f"  {exercise}: {in_gradebook:%Y-%m-%d %H:%M:%S} UTC (the gradebook's; not in "
                             f"c.CourseSchedule.due_dates)")
            else:
                lines.append(f"  {exercise}: no due date")
    path = schedule.extensions_path()
    lines.append(f"Extensions ({path or 'no extensions file'}):")
    for (student, exercise), extra in sorted(extensions.items(), key=lambda item: (item[0][1], item[0][0])):
        where = "stored" if (student, exercise) in stored else "stored when graded (no submission yet)"
        amount = describe_duration(extra.total_seconds()) if extra else "none (taken back)"
        lines.append(f"  {student}, {exercise}: {amount}, {where}")
    if not extensions:
        lines.append("  none")
    return lines
