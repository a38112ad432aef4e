"""Stage *intake*: files from an LMS, Colab or e-mail into `submitted/`, with a status for everyone.

`dl-course collect EXERCISE PATH... [--lms canvas|moodle|blackboard|folders] [--roster FILE]`
reads zip files and folders, recognises the LMS from the file names (or takes `--lms`), finds
each file's student, upload time and notebook, and puts the newest upload of every student at
`submitted/<student>/<exercise>/<exercise>.ipynb` with a `timestamp.txt` (nbgrader's late
penalties and its "newer submission" rule read it). File names are forgiving: "Copy of ...",
" (1)", "-1", Canvas' LATE marker and any case. A re-upload that is unchanged leaves the
submission alone; a changed one is replaced with its newer time stamp, so `nbgrader autograde`
(and `dl-course grade`) grades it again without `--force`.

Students are the gradebook's; `--roster` imports a CSV first (columns `id`, and optionally
`first_name`, `last_name`, `email`, `lms_user_id`, as `nbgrader db student import` reads). A
file's student is found by the id, the LMS user id, the e-mail (or its local part) or the
name the LMS writes (Canvas' "lastnamefirstname", Moodle's "First Last").

Every student on the roster or in the uploads gets one status in the intake report (a table on
screen and `reports/<exercise>/intake.csv`): collected, unchanged, repaired (what the metadata
repair will restore), rejected (why) or missing. `LMSCollectorPlugin` gives nbgrader's own
`nbgrader zip_collect` the same file-name rules.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.plugins.zipcollect import FileNameCollectorPlugin
from traitlets import Unicode

from .repair import NotGradable, kind, match_cells, read_submission

# --------------------------------------------------------------------------- LMS file names

PRESETS = {
    # doejohn_12345_6789012_ex01_numpy_dnn.ipynb, doejohn_LATE_12345_6789012_ex01_numpy_dnn-1.ipynb
    "canvas": re.compile(r"^(?P<name>[^/_]+?)(?:_(?P<late>late))?_(?P<user_id>\d+)_(?P<submission_id>\d+)_(?P<file>[^/]+)$",
                         re.I),
    # Jane Doe_1234567_assignsubmission_file_/ex01_numpy_dnn.ipynb (folders) or ..._file_ex01_numpy_dnn.ipynb
    "moodle": re.compile(r"^(?:.*/)?(?P<name>[^/_]+)_(?P<user_id>\d+)_assignsubmission_(?:file|onlinetext)_/?(?P<file>[^/]*)$",
                         re.I),
    # Exercise 1_jdoe_attempt_2026-11-20-14-30-55_ex01_numpy_dnn.ipynb (and a .txt receipt per attempt)
    "blackboard": re.compile(r"^(?:.*/)?(?P<assignment>[^/]*?)_(?P<user_id>[^_/]+)_attempt_"
                             r"(?P<timestamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>[^/]+))?$", re.I),
    # uploads/<student>/<any name>.ipynb: one folder per student (Colab downloads, e-mail)
    "folders": re.compile(r"^(?:.*/)?(?P<name>[^/]+)/(?P<file>[^/]+)$"),
}
COPY_MARKERS = re.compile(r"^(copy of |kopie von |copie de )+|(\s*\(\d+\)|-\d+|_late)+$", re.I)


def normalize_name(filename):
    """The notebook name a student meant: "Copy of ex01_numpy_dnn (1).ipynb" -> "ex01_numpy_dnn"."""
    stem = Path(filename).name
    stem = stem[:-len(Path(stem).suffix)] if Path(stem).suffix.lower() == ".ipynb" else stem
    previous = None
    while previous != stem:
        previous, stem = stem, COPY_MARKERS.sub("", stem.strip())
    return stem.strip().lower().replace(" ", "_")


def detect_lms(names):
    """The preset that matches most of the given relative file names (Canvas, Moodle, Blackboard, folders)."""
    names = [n for n in names if not n.endswith(".txt")]
    counts = {lms: sum(bool(regex.match(n)) for n in names) for lms, regex in PRESETS.items()}
    best = max(counts, key=lambda lms: (counts[lms], lms != "folders"))
    return best if counts[best] else None


def parse_name(relative, lms):
    """{"identities": [...], "file": notebook name, "timestamp": datetime|None, "late": bool} or None."""
    match = PRESETS[lms].match(relative.replace(os.sep, "/"))
    if not match:
        return None
    groups = match.groupdict()
    identities = [groups.get(k) for k in ("user_id", "name") if groups.get(k)]
    timestamp = None
    if groups.get("timestamp"):
        timestamp = dt.datetime.strptime(groups["timestamp"], "%Y-%m-%d-%H-%M-%S")
    file = groups.get("file") or Path(relative).name
    if lms == "moodle" and not groups.get("file"):
        file = Path(relative).name
    return {"identities": identities, "file": file, "timestamp": timestamp, "late": bool(groups.get("late"))}


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
    mtime: dt.datetime
    student: str | None = None
    notebook: str | None = None
    timestamp: dt.datetime | None = None
    late: bool = False
    identities: list = field(default_factory=list)


def find_uploads(paths):
    """Every file in the given zip files and folders (nested zips included), as Uploads."""
    uploads = []
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = str(file.relative_to(path))
                if file.suffix.lower() == ".zip":
                    uploads += _zip_uploads(zipfile.ZipFile(file), f"{file}:")
                else:
                    uploads.append(Upload(str(file), relative, file.read_bytes,
                                          dt.datetime.fromtimestamp(file.stat().st_mtime)))
        elif path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            uploads += _zip_uploads(zipfile.ZipFile(path), f"{path}:")
        elif path.is_file():
            uploads.append(Upload(str(path), path.name, path.read_bytes, dt.datetime.fromtimestamp(path.stat().st_mtime)))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder (give zip files or folders of uploads)")
    return [u for u in uploads if not any(part.startswith(("__MACOSX", ".")) for part in Path(u.relative).parts)]


def _zip_uploads(archive, prefix):
    uploads = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.filename.lower().endswith(".zip"):
            uploads += _zip_uploads(zipfile.ZipFile(io.BytesIO(archive.read(info))), f"{prefix}{info.filename}:")
            continue
        uploads.append(Upload(prefix + info.filename, info.filename, lambda a=archive, i=info: a.read(i),
                              dt.datetime(*info.date_time)))
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

REPORT_FIELDS = ["student", "status", "detail", "file", "timestamp"]


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
    book = Roster(students)
    uploads = find_uploads(paths)
    lms = lms or detect_lms([u.relative for u in uploads])
    if lms is None:
        raise ValueError("the uploads follow none of the known file-name patterns (canvas, moodle, blackboard, "
                         "folders); give --lms, or put each student's files in a folder named by the student id")
    log(f"Reading {len(uploads)} files as {lms} uploads")
    early, winners = [], {}   # files rejected by name; the newest notebook of each student
    for upload in uploads:
        parsed = parse_name(upload.relative, lms)
        if upload.relative.lower().endswith(".txt") and lms == "blackboard":
            continue   # Blackboard's receipt of an attempt
        if parsed is None:
            early.append(_row(None, "rejected", "the file name follows no pattern of " + lms, upload))
            continue
        upload.identities, upload.late = parsed["identities"], parsed["late"]
        upload.timestamp = parsed["timestamp"] or upload.mtime
        upload.student = book.find(parsed["identities"])
        upload.notebook = normalize_name(parsed["file"])
        if upload.student is None:
            early.append(_row(" / ".join(parsed["identities"]), "rejected", "unknown student (not on the roster)", upload))
            continue
        if not parsed["file"].lower().endswith(".ipynb"):
            early.append(_row(upload.student, "rejected", f"not a notebook ({Path(parsed['file']).suffix or 'no suffix'})", upload))
            continue
        if upload.notebook not in notebooks:
            other = "another exercise's notebook" if re.match(r"ex\d\d_", upload.notebook) else "an unknown notebook"
            if len(notebooks) == 1 and other == "an unknown notebook":
                upload.notebook = notebooks[0]   # a renamed upload of the only notebook: its content decides
            else:
                early.append(_row(upload.student, "rejected", f"wrong exercise: {other} ({upload.notebook})", upload))
                continue
        key = (upload.student, upload.notebook)
        if key not in winners or upload.timestamp >= winners[key].timestamp:
            winners[key] = upload
    rows, collected = [], set()
    for (student, notebook), upload in sorted(winners.items()):
        data = upload.read()
        status, detail = check_notebook(data, releases[notebook])
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, exercise))
        target = folder / f"{notebook}.ipynb"
        if target.is_file() and _digest(target.read_bytes()) == _digest(data):
            status, detail = "unchanged", "the same file as the one already collected"
        else:
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            (folder / "timestamp.txt").write_text(upload.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f"))
        if upload.late:
            detail = (detail + "; " if detail else "") + "marked late by the LMS"
        rows.append(_row(student, status, detail, upload))
        collected.add(student)
    # One status per student: files rejected beside a collected notebook are named in its detail.
    extras = {}
    for r in early:
        if r["student"] in collected:
            extras.setdefault(r["student"], []).append(f"{Path(r['file']).name}: {r['detail']}")
    for r in rows:
        if r["student"] in extras:
            r["detail"] = "; ".join(filter(None, [r["detail"], "also uploaded, ignored: " + "; ".join(extras[r["student"]])]))
    rows += [r for r in early if r["student"] not in collected]
    for student in sorted(set(book.students) - collected - {r["student"] for r in rows}):
        if Path(coursedir.format_path(coursedir.submitted_directory, student, exercise)).is_dir():
            rows.append({"student": student, "status": "unchanged", "detail": "collected before", "file": "", "timestamp": ""})
        else:
            rows.append({"student": student, "status": "missing", "detail": "on the roster, nothing submitted",
                         "file": "", "timestamp": ""})
    rows.sort(key=lambda r: (r["student"] or "", r["status"]))
    write_report(rows, course_root / "reports" / exercise / "intake.csv")
    return rows


def _row(student, status, detail, upload):
    return {"student": student or "", "status": status, "detail": detail, "file": upload.source,
            "timestamp": upload.timestamp.isoformat(sep=" ") if upload.timestamp else ""}


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def _coursedir(course_root):
    from nbgrader.apps.baseapp import NbGrader
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config() \
        if (course_root / "nbgrader_config.py").is_file() else None
    coursedir = CourseDirectory(config=config) if config is not None else CourseDirectory()
    coursedir.root = str(course_root)
    return coursedir


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
    """`nbgrader zip_collect` with the LMS file-name presets: no regular expression to write.

    Configure `c.ZipCollectApp.collector_plugin = "course.grading.intake.LMSCollectorPlugin"`;
    `c.LMSCollectorPlugin.lms` picks a preset ("" recognises it per file)."""

    lms = Unicode("", help="canvas, moodle, blackboard or folders; empty: recognised from each name").tag(config=True)

    def collect(self, submitted_file):
        if Path(submitted_file).suffix.lower() not in self.valid_ext:
            return None
        relative = self._relative(submitted_file)
        if not self.lms and detect_lms([Path(relative).name]) not in (None, "folders"):
            relative = Path(relative).name   # nbgrader unpacks each zip into a folder of its own name
        lms = self.lms or detect_lms([relative])
        parsed = parse_name(relative, lms) if lms else None
        if parsed is None:
            self.log.warning("No LMS file-name pattern matches %s", relative)
            return None
        student = self._roster().find(parsed["identities"])
        if student is None:
            self.log.warning("Unknown student %s (%s): import the roster first", parsed["identities"], relative)
            return None
        info = {"student_id": student, "file_id": normalize_name(parsed["file"]) + ".ipynb"}
        if parsed["timestamp"]:
            info["timestamp"] = parsed["timestamp"].isoformat(sep=" ")
        return info

    def _relative(self, path):
        """The name below the extracted folder (the part the LMS wrote)."""
        parts = Path(path).parts
        if "extracted" in parts:
            return "/".join(parts[len(parts) - parts[::-1].index("extracted"):])
        return Path(path).name

    def _roster(self):
        if not hasattr(self, "_book"):
            from nbgrader.api import Gradebook
            from nbgrader.coursedir import CourseDirectory

            coursedir = CourseDirectory(parent=self)
            with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
                self._book = Roster([s.to_dict() for s in gb.students])
        return self._book
