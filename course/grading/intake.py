"""Stage *intake*: files from an LMS, Colab or e-mail into `submitted/`, with a status for everyone.

`dl-course collect EXERCISE PATH... [--lms canvas|moodle|blackboard|folders] [--roster FILE]`
reads zip files and folders (an unzipped export reads as its zip; so do its student folders given
one by one), recognises the LMS from the file names (or takes `--lms`), finds each file's student,
upload time and notebook, and puts the newest readable upload of every student at
`submitted/<student>/<exercise>/<exercise>.ipynb` with a `timestamp.txt` (nbgrader's late
penalties and its "newer submission" rule read it). File names are forgiving: "Copy of ...",
" (1)", "-1", Canvas' LATE marker and any case. A re-upload that is unchanged leaves the
submission alone; a changed one is replaced with its newer time stamp, so `nbgrader autograde`
(and `dl-course grade`) grades it again without `--force`.

"Newest" is one rule (`upload_order`, `newest_first`): the LMS's time in the name (Blackboard),
else the LMS's upload id (Canvas), else the resubmission number ("-2", " (2)"), else the file's
time (the zip member's, which the LMS wrote); the time stamps written follow that order strictly.
An upload that is not a readable notebook of the exercise (corrupt, not a notebook, another
exercise) never lands in `submitted/`: the student's newest readable upload is collected instead,
and its report row names the upload graded and the newer ones rejected, with why.

Students are the gradebook's; `--roster` imports a CSV first (columns `id`, and optionally
`first_name`, `last_name`, `email`, `lms_user_id`, as `nbgrader db student import` reads). A
file's student is found by the id, the LMS user id, the e-mail (or its local part) or the
name the LMS writes (Canvas' "lastnamefirstname", Moodle's "First Last"); only the part of a name
the LMS wrote counts, never what the student named a file or a folder.

Every student on the roster or in the uploads gets one status in the intake report (a table on
screen and `reports/<exercise>/intake.csv`, its `upload` column naming the file): collected,
unchanged, repaired (what the metadata repair will restore), rejected (why; a student not on the
roster under the name the LMS wrote) or missing. `LMSCollectorPlugin` gives nbgrader's own
`nbgrader zip_collect` the same file-name rules and the same choice of upload.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
from nbgrader.plugins.zipcollect import FileNameCollectorPlugin
from traitlets import Unicode

from .repair import NotGradable, kind, match_cells, read_submission

# --------------------------------------------------------------------------- LMS file names

# Each preset matches one path component: the one the LMS wrote for a student's upload. A name is
# read from the first component that matches (the folders above it are the instructor's, what is
# below it is the student's own: a student cannot name a file or a folder of theirs so that it
# passes for another student's), and the notebook is the last component.
PRESETS = {
    # doejohn_12345_6789012_ex01_numpy_dnn.ipynb, doejohn_LATE_12345_6789012_ex01_numpy_dnn-1.ipynb
    "canvas": re.compile(r"^(?P<name>[^/_]+?)(?:_(?P<late>late))?_(?P<user_id>\d+)_(?P<submission_id>\d+)_(?P<file>[^/]+)$",
                         re.I),
    # Jane Doe_1234567_assignsubmission_file_/ex01_numpy_dnn.ipynb (the zip's folders), ..._file_ex01_numpy_dnn.ipynb
    # (flattened), or Jane Doe_1234567_assignsubmission_file/ex01_numpy_dnn.ipynb ("Download submissions in folders")
    "moodle": re.compile(r"^(?P<name>[^/_]+)_(?P<user_id>\d+)_assignsubmission_(?:file|onlinetext)(?:_(?P<file>[^/]*))?$",
                         re.I),
    # Exercise 1_jdoe_attempt_2026-11-20-14-30-55_ex01_numpy_dnn.ipynb (and a .txt receipt per attempt)
    "blackboard": re.compile(r"^(?P<assignment>[^/]*?)_(?P<user_id>[^_/]+)_attempt_"
                             r"(?P<timestamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>[^/]+))?$", re.I),
    # uploads/<student>/<any name>.ipynb: one folder per student (Colab downloads, e-mail); the
    # first folder of the name is the student's
    "folders": re.compile(r"^(?P<name>[^/]+)$"),
}
COPY_MARKERS = re.compile(r"^(copy of |kopie von |copie de )+|(\s*\(\d+\)|-\d+|_late)+$", re.I)
RESUBMISSION = re.compile(r"(?:-(\d+)|\((\d+)\))\s*$")


def normalize_name(filename):
    """The notebook name a student meant: "Copy of ex01_numpy_dnn (1).ipynb" -> "ex01_numpy_dnn"."""
    stem = Path(filename).name
    stem = stem[:-len(Path(stem).suffix)] if Path(stem).suffix.lower() == ".ipynb" else stem
    previous = None
    while previous != stem:
        previous, stem = stem, COPY_MARKERS.sub("", stem.strip())
    return stem.strip().lower().replace(" ", "_")


def detect_lms(names):
    """The preset that matches most of the given relative file names (Canvas, Moodle, Blackboard, folders);
    names may be those of a zip file's members or of the files below a folder."""
    names = [n for n in names if not n.endswith(".txt")]
    counts = {lms: sum(parse_name(n, lms) is not None for n in names) for lms in PRESETS}
    best = max(counts, key=lambda lms: (counts[lms], lms != "folders"))
    return best if counts[best] else None


def parse_name(relative, lms):
    """{"identities": [...], "name": the student's name as the LMS wrote it, "file": notebook name,
    "timestamp": datetime|None (the LMS's), "submission_id": int|None, "resubmission": int,
    "late": bool} or None."""
    parts = [p for p in relative.replace(os.sep, "/").split("/") if p]
    if not parts:
        return None
    if lms == "folders":
        if len(parts) < 2:
            return None
        groups, file = {"name": parts[0]}, parts[-1]
    else:
        for index, part in enumerate(parts):
            match = PRESETS[lms].match(part)
            if match:
                break
        else:
            return None
        groups = match.groupdict()
        file = parts[-1] if index < len(parts) - 1 else (groups.get("file") or part)
    identities = [groups.get(k) for k in ("user_id", "name") if groups.get(k)]
    timestamp = None
    if groups.get("timestamp"):
        timestamp = dt.datetime.strptime(groups["timestamp"], "%Y-%m-%d-%H-%M-%S")
    stem = file[:-len(".ipynb")] if file.lower().endswith(".ipynb") else file
    resubmission = RESUBMISSION.search(stem)
    return {"identities": identities, "name": groups.get("name") or groups.get("user_id"), "file": file,
            "user_id": groups.get("user_id") or "",
            "timestamp": timestamp, "late": bool(groups.get("late")),
            "submission_id": int(groups["submission_id"]) if groups.get("submission_id") else None,
            "resubmission": int(next(filter(None, resubmission.groups()))) if resubmission else 0}


# --------------------------------------------------------------------------- newest upload

def upload_order(upload):
    """The sort key of "newest upload", shared by `collect` and `LMSCollectorPlugin` (larger is newer):
    the time the LMS wrote in the name (Blackboard's attempt), else the LMS's submission id (Canvas
    numbers every upload, a later one higher), else the resubmission number of the file name (Canvas'
    "-1", "-2", a browser's " (1)"), else the file's time (the zip member's time the LMS wrote, or
    the file's mtime); last the name, so that the order is total and the same on every run."""
    return (upload.lms_time or dt.datetime.min, -1 if upload.submission_id is None else upload.submission_id,
            upload.resubmission, upload.mtime, upload.source)


def newest_first(uploads):
    """Uploads of one student's notebook, newest first, each with its `timestamp`: the LMS's time (or
    the file's) made strictly increasing along `upload_order`, so that a later upload never has an
    earlier time stamp (nbgrader's zip_collect and "newer submission" rule compare time stamps only)."""
    ordered, previous = sorted(uploads, key=upload_order), None
    for upload in ordered:
        stamp = upload.lms_time or upload.mtime
        if previous is not None and stamp <= previous:
            stamp = previous + dt.timedelta(microseconds=1)
        upload.timestamp = previous = stamp
    return ordered[::-1]


def _key(text):
    """Compare names ignoring case, accents, spaces and punctuation."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


class Roster:
    """Students of the course, and the names an LMS may write for each of them."""

    def __init__(self, students):
        self.students = {s["id"]: s for s in students}
        self.lookup = {}
        for s in students:
            first, last = s.get("first_name") or "", s.get("last_name") or ""
            email = s.get("email") or ""
            for alias in (s["id"], s.get("lms_user_id"), email, email.split("@")[0], last + first, first + last):
                if alias and _key(alias):
                    self.lookup.setdefault(_key(alias), s["id"])

    def find(self, identities):
        """The student id for any of the identities (None when the roster has none of them)."""
        if not self.students:   # no roster: the LMS identity is the id
            return _safe_id(identities[0]) if identities else None
        for identity in identities:
            if _key(identity) in self.lookup:
                return self.lookup[_key(identity)]
        return None


def _safe_id(text):
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", str(text)).strip("_") or None


def read_roster(path):
    """Rows of a roster CSV (column `id` required), as dicts with the gradebook's student fields."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "id" not in rows[0]:
        raise ValueError(f"{path}: a roster needs an `id` column (and may have first_name, last_name, email, "
                         f"lms_user_id); found {sorted(rows[0])}")
    keep = ("id", "first_name", "last_name", "email", "lms_user_id")
    return [{k: (row.get(k) or None) for k in keep} for row in rows if row.get("id")]


# --------------------------------------------------------------------------- uploads

@dataclass
class Upload:
    """One file of the uploads."""
    source: str                 # where it came from (zip:member or path), for the report
    relative: str               # its name relative to the zip or folder, for the LMS rules
    read: object                # () -> bytes
    mtime: dt.datetime          # the zip member's time, or the file's
    student: str | None = None
    notebook: str | None = None
    timestamp: dt.datetime | None = None
    late: bool = False
    identities: list = field(default_factory=list)
    outer: str = ""             # the name of the folder it was found in, when a folder was given
    lms_time: dt.datetime | None = None     # the time the LMS wrote in its name
    submission_id: int | None = None        # the LMS's number of the upload (Canvas)
    resubmission: int = 0                   # "-2", " (2)" at the end of the file name
    lms_name: str = ""                      # the student's name as the LMS wrote it
    lms: str = ""                           # the preset its name was read with
    lms_user_id: str = ""                   # the LMS's id of the student in the name (Canvas user id,
                                            # Moodle participant id, Blackboard user name)


class UploadRefused(ValueError):
    """An upload that is not read at all, and why: a link, larger than the limit, a name that climbs out of its zip."""


MAX_UPLOAD_BYTES = 100_000_000   # one uploaded file, as nbgrader's CourseDirectory.max_file_size (100,000 kB)
MAX_ZIP_DEPTH = 3                # zips inside zips inside zips: deeper ones are files like any other


def read_file_upload(path, max_bytes=MAX_UPLOAD_BYTES):
    """The bytes of an uploaded file: a link is never followed and a file larger than `max_bytes` never read."""
    path = Path(path)
    if path.is_symlink():
        raise UploadRefused("a symbolic link, not a file: links are never followed")
    with open(path, "rb") as handle:
        return _bounded(handle, max_bytes)


def read_zip_member(archive, info, max_bytes=MAX_UPLOAD_BYTES):
    """The bytes of a zip member: a link member (its target's name) is refused, and no more than `max_bytes` are
    ever decompressed, whatever size the zip declares (a zip bomb stops at the limit)."""
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UploadRefused("a symbolic link in the zip, not a file: links are never followed")
    if info.file_size > max_bytes:
        raise UploadRefused(f"{info.file_size} bytes unpacked, larger than the {max_bytes} an upload may have")
    with archive.open(info) as handle:
        return _bounded(handle, max_bytes)


def _bounded(handle, max_bytes):
    data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadRefused(f"larger than the {max_bytes} bytes an upload may have")
    return data


def _climbs_out(name):
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or ".." in parts or (parts and re.match(r"^[A-Za-z]:$", parts[0]))


def find_uploads(paths, max_bytes=MAX_UPLOAD_BYTES):
    """Every file in the given zip files and folders (nested zips included), as Uploads. A zip inside
    a folder or inside a zip keeps the names above it ("bsmith/upload.zip" holding "x.ipynb" is
    "bsmith/upload/x.ipynb"), so that a student's zip cannot pass for another student's folder. Nothing is
    unpacked to disk; links, files larger than `max_bytes` and zip members whose names climb out of the zip
    ("../x", "/etc/x") are uploads that are refused when read (rejected, with the reason, in the report)."""
    uploads = []
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()):
                relative = file.relative_to(path).as_posix()
                if not file.is_symlink() and file.suffix.lower() == ".zip" and zipfile.is_zipfile(file):
                    found = _zip_uploads(zipfile.ZipFile(file), f"{file}:", relative[:-len(".zip")] + "/"
                                         if "/" in relative else "", max_bytes)
                else:
                    found = [Upload(str(file), relative, lambda f=file: read_file_upload(f, max_bytes),
                                    dt.datetime.fromtimestamp(file.lstat().st_mtime))]
                for upload in found:
                    upload.outer = path.resolve().name
                uploads += found
        elif path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            uploads += _zip_uploads(zipfile.ZipFile(path), f"{path}:", "", max_bytes)
        elif path.is_file():
            uploads.append(Upload(str(path), path.name, lambda f=path: read_file_upload(f, max_bytes),
                                  dt.datetime.fromtimestamp(path.stat().st_mtime)))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder (give zip files or folders of uploads)")
    return [u for u in uploads if not any(part.startswith(("__MACOSX", ".")) for part in Path(u.relative).parts)]


def _zip_uploads(archive, prefix, relative_prefix="", max_bytes=MAX_UPLOAD_BYTES, depth=1):
    uploads = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        if _climbs_out(info.filename):
            def refuse(name=info.filename):
                raise UploadRefused(f"its name in the zip ({name}) climbs out of the zip")
            uploads.append(Upload(prefix + info.filename, relative_prefix + info.filename.lstrip("/\\").replace("../", ""),
                                  refuse, dt.datetime(*info.date_time)))
            continue
        if info.filename.lower().endswith(".zip") and depth < MAX_ZIP_DEPTH:
            try:
                inner = zipfile.ZipFile(io.BytesIO(read_zip_member(archive, info, max_bytes)))
            except (zipfile.BadZipFile, UploadRefused):
                pass   # a corrupt or refused zip upload: a file like any other (rejected when read)
            else:
                uploads += _zip_uploads(inner, f"{prefix}{info.filename}:",
                                        relative_prefix + info.filename[:-len(".zip")] + "/", max_bytes, depth + 1)
                continue
        uploads.append(Upload(prefix + info.filename, relative_prefix + info.filename,
                              lambda a=archive, i=info: read_zip_member(a, i, max_bytes), dt.datetime(*info.date_time)))
    return uploads


# --------------------------------------------------------------------------- checking a notebook

def check_notebook(data, release):
    """(status, detail) of a submitted file's bytes against the release notebook: ("rejected", why),
    ("repaired", what the repair will restore) or ("collected", "")."""
    try:
        nb = read_submission(data.decode("utf-8"))
    except UnicodeDecodeError:
        return "rejected", "the file is not text (not a notebook)"
    except NotGradable as error:
        return "rejected", str(error)
    matches = match_cells(release.cells, nb.cells)
    if not any(kind(release.cells[r]) in ("test", "solution") for r in matches):
        return "rejected", "none of its cells matches this exercise (another exercise?)"
    restored = [r for r in matches if _meta(nb.cells[matches[r]]) != _meta(release.cells[r])]
    missing = [release.cells[r] for r, cell in enumerate(release.cells) if kind(cell) and r not in matches]
    parts = []
    if restored:
        parts.append(f"nbgrader metadata of {len(restored)} cells will be restored")
    if missing:
        ids = ", ".join(c.metadata.nbgrader["grade_id"] for c in missing)
        parts.append(f"missing cells restored from the release: {ids}")
    return ("repaired", "; ".join(parts)) if parts else ("collected", "")


def _meta(cell):
    meta = dict(cell.get("metadata", {}).get("nbgrader", {}))
    meta.pop("checksum", None)
    return meta


# --------------------------------------------------------------------------- collect

# The LMS columns say where a student's graded upload came from: `dl-course export --lms` and `dl-course
# return` write grades and feedback back under these ids.
REPORT_FIELDS = ["student", "status", "detail", "file", "timestamp", "upload", "lms", "lms_user_id",
                 "lms_submission_id", "lms_name"]


def read_name(upload, lms, book, notebooks):
    """Fill in the upload's student, notebook and LMS facts from its name; returns why it is rejected
    by its name alone (then `upload.student` is the roster's id, or None: not on the roster), or None."""
    parsed = parse_name(upload.relative, lms)
    if parsed is None:
        return "the file name follows no pattern of " + lms
    upload.identities, upload.late, upload.lms_name = parsed["identities"], parsed["late"], parsed["name"] or ""
    upload.lms_time, upload.submission_id = parsed["timestamp"], parsed["submission_id"]
    upload.resubmission = parsed["resubmission"]
    upload.lms, upload.lms_user_id = lms, parsed["user_id"]
    upload.timestamp = upload.lms_time or upload.mtime
    upload.student = book.find(parsed["identities"])
    upload.notebook = normalize_name(parsed["file"])
    if upload.student is None:
        ids = [i for i in parsed["identities"] if i != upload.lms_name]
        return "unknown student (not on the roster)" + (f"; LMS user id {ids[0]}" if ids else "")
    if not parsed["file"].lower().endswith(".ipynb"):
        return f"not a notebook ({Path(parsed['file']).suffix or 'no suffix'})"
    if upload.notebook not in notebooks:
        other = "another exercise's notebook" if re.match(r"ex\d\d_", upload.notebook) else "an unknown notebook"
        if len(notebooks) == 1 and other == "an unknown notebook":
            upload.notebook = notebooks[0]   # a renamed upload of the only notebook: its content decides
        else:
            return f"wrong exercise: {other} ({upload.notebook})"
    return None


@dataclass
class Choice:
    """The upload of one student's notebook that is graded: the newest readable one."""
    upload: Upload | None                   # None: every upload was rejected
    data: bytes | None
    status: str                             # collected or repaired (of `upload`); rejected when None
    detail: str
    rejected: list                          # [(upload, why)] of uploads newer than `upload`, newest first
    older: list                             # readable uploads older than `upload`


def choose(uploads, release):
    """The newest readable upload among one student's uploads of one notebook (`newest_first`):
    a newer upload that is not a readable notebook of this exercise is passed over (and named), so a
    broken re-upload neither zeroes the student's grade nor lands in submitted/."""
    rejected = []
    ordered = newest_first(uploads)
    for index, upload in enumerate(ordered):
        try:
            data = upload.read()
        except UploadRefused as error:
            rejected.append((upload, str(error)))
            continue
        status, detail = check_notebook(data, release)
        if status != "rejected":
            return Choice(upload, data, status, detail, rejected, ordered[index + 1:])
        rejected.append((upload, detail))
    return Choice(None, None, "rejected", rejected[0][1], rejected, [])


def _upload_name(upload):
    return upload.relative


def collect(exercise, paths, course_root=".", lms=None, roster=None, coursedir=None, log=print):
    """Collect uploads of one exercise into submitted/; returns the intake report rows (dicts)."""
    from nbgrader.api import Gradebook

    course_root = Path(course_root).resolve()
    coursedir = coursedir or _coursedir(course_root)
    release_folder = Path(coursedir.format_path(coursedir.release_directory, ".", exercise))
    notebooks = sorted(p.stem for p in release_folder.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no release notebook in {release_folder}: run `nbgrader generate_assignment {exercise}` first")
    releases = {name: nbformat.read(release_folder / f"{name}.ipynb", as_version=4) for name in notebooks}
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        if roster:
            for row in read_roster(roster):
                gb.update_or_create_student(row["id"], **{k: v for k, v in row.items() if k != "id"})
        students = [s.to_dict() for s in gb.students]
        due = _has_due_date(coursedir, exercise, gb)
    book = Roster(students)
    uploads = find_uploads(paths, max_bytes=1000 * coursedir.max_file_size)
    lms = lms or _detect(uploads)
    if lms is None:
        raise ValueError("the uploads follow none of the known file-name patterns (canvas, moodle, blackboard, "
                         "folders); give --lms, or put each student's files in a folder named by the student id")
    log(f"Reading {len(uploads)} files as {lms} uploads")
    early, groups = [], {}   # files rejected by name; the notebooks of each student
    for upload in uploads:
        if upload.relative.lower().endswith(".txt") and lms == "blackboard":
            continue   # Blackboard's receipt of an attempt
        why = read_name(upload, lms, book, notebooks)
        if why is None:
            groups.setdefault((upload.student, upload.notebook), []).append(upload)
        elif upload.student is None and upload.identities:
            early.append(_row(upload.lms_name or " / ".join(upload.identities), "rejected", why, upload))
        else:
            early.append(_row(upload.student, "rejected", why, upload))
    rows, collected, refused = [], set(), []   # refused: students whose every notebook upload is rejected
    for (student, notebook), group in sorted(groups.items()):
        choice = choose(group, releases[notebook])
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, exercise))
        target = folder / f"{notebook}.ipynb"
        if choice.upload is None:   # nothing readable: submitted/ keeps what it had (if anything)
            newest, why = choice.rejected[0]
            notes = [f"{_upload_name(u)}: {w}" for u, w in choice.rejected[1:]]
            detail = "; ".join([why] + (["older uploads rejected too: " + "; ".join(notes)] if notes else []))
            if target.is_file():
                detail += "; the submission collected before stays in submitted/"
            refused.append(_row(student, "rejected", detail, newest))
            continue
        upload, status, detail = choice.upload, choice.status, choice.detail
        if target.is_file() and _digest(target.read_bytes()) == _digest(choice.data):
            status, detail = "unchanged", "the same file as the one already collected"
        else:
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(choice.data)
            (folder / "timestamp.txt").write_text(upload.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f"))
        if choice.rejected:
            detail = "; ".join(filter(None, [detail, f"graded {_upload_name(upload)}: newer "
                                             + "; ".join(f"upload {_upload_name(u)} rejected: {w}"
                                                         for u, w in choice.rejected)]))
        if upload.late:
            detail = (detail + "; " if detail else "") + LMS_LATE + ("" if due else f" ({NO_PENALTY})")
        rows.append(_row(student, status, detail, upload))
        collected.add(student)
    # One status per student: files rejected beside a collected notebook are named in its detail.
    extras = {}
    for r in early:
        if r["student"] in collected:
            extras.setdefault(r["student"], []).append(f"{r['upload']}: {r['detail']}")
    for r in rows:
        if r["student"] in extras:
            r["detail"] = "; ".join(filter(None, [r["detail"], "also uploaded, ignored: " + "; ".join(extras[r["student"]])]))
    merged, nameless = {}, []   # one row per student: the newest rejected notebook names the others
    by_time = lambda r: r["timestamp"]   # noqa: E731
    for r in sorted(refused, key=by_time, reverse=True) + sorted(early, key=by_time, reverse=True):
        if r["student"] in collected:
            continue
        if not r["student"]:
            nameless.append(r)
        elif r["student"] in merged:
            first = merged[r["student"]]
            first["detail"] += f"; also uploaded, rejected: {r['upload']}: {r['detail']}"
        else:
            merged[r["student"]] = r
    rows += list(merged.values()) + nameless
    for student in sorted(set(book.students) - collected - {r["student"] for r in rows}):
        if Path(coursedir.format_path(coursedir.submitted_directory, student, exercise)).is_dir():
            rows.append(_earlier_row(coursedir, exercise, student))
        else:
            rows.append({**dict.fromkeys(REPORT_FIELDS, ""), "student": student, "status": "missing",
                         "detail": "on the roster, nothing submitted"})
    rows.sort(key=lambda r: (r["student"] or "", r["status"]))
    _remember_lms_ids(coursedir, rows, book)
    write_report(rows, course_root / "reports" / exercise / "intake.csv")
    return rows


# The words for lateness, shared with the instructor's report (course.grading.report).
LMS_LATE = "marked late by the LMS"
NO_PENALTY = "no due date is set for this exercise here: no late penalty"


def _has_due_date(coursedir, exercise, gb):
    """Whether the course has a due date for the exercise: in nbgrader_config.py or already in the gradebook."""
    from nbgrader.api import MissingEntry

    from .schedule import CourseSchedule

    if exercise in CourseSchedule(config=coursedir.config).due_dates:
        return True
    try:
        return gb.find_assignment(exercise).duedate is not None
    except MissingEntry:
        return False


def _detect(uploads):
    """The LMS of the uploads; the name of a given folder counts when the names below it match no LMS
    (`dl-course collect EX "Jane Doe_42_assignsubmission_file_"` or a shell's `export/*`)."""
    lms = detect_lms([u.relative for u in uploads])
    if lms in (None, "folders") and any(u.outer for u in uploads):
        outer = [f"{u.outer}/{u.relative}" if u.outer else u.relative for u in uploads]
        if detect_lms(outer) not in (None, "folders"):
            for upload, name in zip(uploads, outer):
                upload.relative = name
            return detect_lms(outer)
    return lms


def _row(student, status, detail, upload):
    return {"student": student or "", "status": status, "detail": detail, "file": upload.source,
            "timestamp": upload.timestamp.isoformat(sep=" ") if upload.timestamp else "",
            "upload": _upload_name(upload), "lms": upload.lms if upload.lms != "folders" else "",
            "lms_user_id": upload.lms_user_id, "lms_submission_id": upload.submission_id or "",
            "lms_name": upload.lms_name if upload.lms != "folders" else ""}


def _remember_lms_ids(coursedir, rows, book):
    """Keep a student's Canvas user id or Blackboard user name in the gradebook (`lms_user_id`) when the roster
    gave none, so that grades of exercises collected another way still go back. Moodle's participant ids are
    per assignment: they stay in the exercise's intake report."""
    from nbgrader.api import Gradebook

    found = {r["student"]: r["lms_user_id"] for r in rows
             if r.get("lms") in ("canvas", "blackboard") and r.get("lms_user_id") and r["student"] in book.students
             and not book.students[r["student"]].get("lms_user_id")}
    if found:
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            for student, user_id in found.items():
                gb.update_or_create_student(student, lms_user_id=user_id)


def _earlier_row(coursedir, exercise, student):
    """The row of a student collected by an earlier run and not in this one: the LMS facts of that run's
    report are kept, so that grades and feedback can still go back to the LMS."""
    row = {**dict.fromkeys(REPORT_FIELDS, ""), "student": student, "status": "unchanged", "detail": "collected before"}
    path = Path(coursedir.root, "reports", exercise, "intake.csv")
    if path.is_file():
        with open(path, newline="") as handle:
            for old in csv.DictReader(handle):
                if old.get("student") == student and old.get("lms"):
                    row.update({k: old.get(k, "") for k in ("file", "timestamp", "upload", "lms", "lms_user_id",
                                                            "lms_submission_id", "lms_name")})
    return row


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def _coursedir(course_root):
    from nbgrader.coursedir import CourseDirectory

    from course.coursedir import CONFIG_FILE, load_config

    if not (Path(course_root) / CONFIG_FILE).is_file():
        return CourseDirectory(root=str(Path(course_root).resolve()))
    return CourseDirectory(config=load_config(course_root))


def write_report(rows, path):
    """The intake report as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def format_report(rows):
    """The intake report as a text table, with a count per status."""
    widths = {f: max([len(f)] + [len(str(r[f])) for r in rows]) for f in ("student", "status")}
    lines = [f"{'student':{widths['student']}}  {'status':{widths['status']}}  detail"]
    for r in rows:
        lines.append(f"{r['student']:{widths['student']}}  {r['status']:{widths['status']}}  {r['detail']}")
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    lines.append(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return "\n".join(lines)


# --------------------------------------------------------------------------- nbgrader zip_collect

class LMSCollectorPlugin(FileNameCollectorPlugin):
    """`nbgrader zip_collect` with the LMS file-name presets and the rules of `dl-course collect`.

    Configure `c.ZipCollectApp.collector_plugin = "course.grading.intake.LMSCollectorPlugin"`;
    `c.LMSCollectorPlugin.lms` picks a preset ("" recognises it per archive). On its first call the
    plugin reads every extracted file (the names as the LMS wrote them, below the folder nbgrader
    unpacked each zip into; the times of the zip members) and decides, as `collect` does, which
    upload of each student is graded: the newest readable one (`upload_order`). It returns that one
    with its time stamp (strictly increasing along the order, so nbgrader's own comparison agrees)
    and skips, with a warning naming the file and why, older uploads, files that are not a readable
    notebook of the exercise, unknown students and names that follow no pattern."""

    lms = Unicode("", help="canvas, moodle, blackboard or folders; empty: recognised from the names of each archive"
                  ).tag(config=True)

    def collect(self, submitted_file):
        if Path(submitted_file).suffix.lower() not in self.valid_ext:
            return None
        decisions = self._decisions(submitted_file)
        decision = decisions.get(str(Path(submitted_file).resolve()))
        if decision is None:
            self.log.warning("Skipping %s: not among the extracted files", submitted_file)
            return None
        if "skip" in decision:
            self.log.warning("Skipping %s: %s", decision["name"], decision["skip"])
            return None
        return decision["info"]

    # -- the whole extracted folder, read once

    def _folders(self, submitted_file):
        """(extracted folder, archive folder or None) of zip_collect."""
        app = self.parent
        try:
            extracted = Path(app._format_collect_path(app.extracted_directory))
            archive = Path(app._format_collect_path(app.archive_directory))
        except (AttributeError, KeyError, TypeError):
            parts = Path(submitted_file).resolve().parts
            if "extracted" not in parts:
                return Path(submitted_file).resolve().parent, None
            extracted = Path(*parts[:len(parts) - parts[::-1].index("extracted")])
            archive = extracted.parent / "archive"
        return extracted.resolve(), archive.resolve() if archive.is_dir() else None

    def _uploads(self, extracted, archive):
        """Uploads of the extracted files, grouped by archive: {group: [Upload]}."""
        groups = {}
        for root, _, files in os.walk(extracted):
            for name in sorted(files):
                path = Path(root, name).resolve()
                rel = path.relative_to(extracted)
                base, zip_path = self._base(rel, extracted, archive)
                relative = rel.relative_to(base).as_posix() if base != Path(".") else rel.as_posix()
                upload = Upload(str(path), relative, lambda f=path: read_file_upload(f),
                                self._mtime(path, rel, extracted, archive))
                groups.setdefault(str(base), []).append(upload)
        return groups

    @staticmethod
    def _zip_of(folder_rel, extracted, archive):
        """The zip file that nbgrader unpacked into extracted/<folder_rel>, or None."""
        for ext in (".zip", ".gz", ".tar.gz"):
            for candidate in ([archive / (str(folder_rel) + ext)] if archive else []) + [extracted / (str(folder_rel) + ext)]:
                if candidate.is_file():
                    return candidate
        return None

    def _base(self, rel, extracted, archive):
        """The outermost folder of `rel` that is an unpacked archive (its names are the LMS's), else '.'."""
        for depth in range(1, len(rel.parts)):
            folder = Path(*rel.parts[:depth])
            found = self._zip_of(folder, extracted, archive)
            if found is not None:
                return folder, found
        return Path("."), None

    def _mtime(self, path, rel, extracted, archive):
        """The time of the zip member that the file was unpacked from (the LMS's), else of the file
        copied into archive/, else of the file itself."""
        for depth in range(len(rel.parts) - 1, 0, -1):
            folder = Path(*rel.parts[:depth])
            found = self._zip_of(folder, extracted, archive)
            if found is not None and zipfile.is_zipfile(found):
                member = Path(*rel.parts[depth:]).as_posix()
                try:
                    with zipfile.ZipFile(found) as handle:
                        return dt.datetime(*handle.getinfo(member).date_time)
                except KeyError:
                    pass
        if archive and (archive / rel).is_file():
            return dt.datetime.fromtimestamp((archive / rel).stat().st_mtime)
        return dt.datetime.fromtimestamp(path.stat().st_mtime)

    def _decisions(self, submitted_file):
        if getattr(self, "_decided", None) is not None:
            return self._decided
        extracted, archive = self._folders(submitted_file)
        notebooks, releases = self._releases()
        book, decisions = self._roster(), {}
        for group in self._uploads(extracted, archive).values():
            lms = self.lms or detect_lms([u.relative for u in group])
            candidates = {}
            for upload in group:
                if Path(upload.relative).suffix.lower() not in self.valid_ext:
                    continue
                entry = decisions[upload.source] = {"name": upload.relative}
                if lms is None:
                    entry["skip"] = "no LMS file-name pattern matches it"
                    continue
                if not notebooks:
                    entry["skip"] = "no release notebook of the assignment (run nbgrader generate_assignment)"
                    continue
                why = read_name(upload, lms, book, notebooks)
                if why is not None:
                    entry["skip"] = why if upload.student else (f"{upload.lms_name or 'no name'}: {why}: import the "
                                                                "roster first (nbgrader db student import)")
                    continue
                candidates.setdefault((upload.student, upload.notebook), []).append(upload)
            for (student, notebook), uploads in sorted(candidates.items()):
                choice = choose(uploads, releases[notebook])
                for upload, why in choice.rejected:
                    decisions[upload.source]["skip"] = f"not a readable notebook of this exercise: {why}"
                for upload in choice.older:
                    decisions[upload.source]["skip"] = (f"an older upload of {student} "
                                                        f"({_upload_name(choice.upload)} is newer)")
                if choice.upload is not None:
                    decisions[choice.upload.source]["info"] = {
                        "student_id": student, "file_id": notebook + ".ipynb",
                        "timestamp": choice.upload.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")}
                    if choice.rejected:
                        self.log.warning("Collecting %s for %s: newer uploads rejected: %s", choice.upload.relative,
                                         student, "; ".join(f"{u.relative}: {w}" for u, w in choice.rejected))
        self._decided = decisions
        return decisions

    def _releases(self):
        coursedir = getattr(self.parent, "coursedir", None)
        if coursedir is None or not coursedir.assignment_id:
            return [], {}
        folder = Path(coursedir.format_path(coursedir.release_directory, ".", coursedir.assignment_id))
        notebooks = sorted(p.stem for p in folder.glob("*.ipynb"))
        return notebooks, {name: nbformat.read(folder / f"{name}.ipynb", as_version=4) for name in notebooks}

    def _roster(self):
        if not hasattr(self, "_book"):
            from nbgrader.api import Gradebook
            from nbgrader.coursedir import CourseDirectory

            coursedir = getattr(self.parent, "coursedir", None) or CourseDirectory(parent=self)
            with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
                self._book = Roster([s.to_dict() for s in gb.students])
        return self._book
