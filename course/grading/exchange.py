"""Stage *exchange*: nbgrader's exchange, trusting no file that a student can write.

nbgrader's own exchange (`nbgrader.exchange.default`) is a shared folder that every student writes: the
course's classes replace its steps through nbgrader's documented extension point, `c.ExchangeFactory`
(nbgrader_config.py, and the hub's deploy/jupyterhub/jupyter/common/nbgrader_config.py), so `nbgrader
collect`, `nbgrader submit`, the Assignments tab and the Formgrader's buttons all get them.

**The layout** (`make_layout` creates it; `layout_problems` says what is wrong with one, each problem with its
fix, and every step refuses an exchange that has one):

| folder | owner | mode | why |
| --- | --- | --- | --- |
| the root | root, or the instructor on one machine | 0755 | nobody else can rename, replace or pre-create a course's folder |
| `<course>` | the grader | 0755 | the same for `outbound`, `inbound` and `feedback` |
| `<course>/outbound` | the grader | 0755 | released assignments: everyone reads, only the grader writes |
| `<course>/inbound` | the grader | 3733 | students create their folders (`-wx`), cannot list others' (no `r`), cannot rename or delete them (sticky bit); what they make gets the grader's group (setgid) |
| `<course>/feedback` | the grader | 0711 | a student opens only the feedback whose hashed name they know |
| a submission | its student | 0750 / 0640 files | read by its student and the grader's group, written by its student only |

**Collect** (`CourseCollect`) takes only what a student could honestly have submitted:

- a folder whose Linux owner is not the student it names is *rejected* ("submitted by ben under ana's name"),
  on screen and in the intake report, and the owner's own submission is *flagged* for review (a note the
  grading record turns into a flag, `records.COLLECT_NOTES`); the named student's own newest folder is the
  one collected. The collecting account's own folders are trusted (one machine: the instructor submits for
  the students with `--student`). `c.ExchangeCollect.check_owner = False` turns the check off (an exchange
  on a file system that does not keep owners), which lets any student submit as any other;
- links are never followed anywhere in a submission (`copy_submission` walks it with `os.fwalk` and opens every
  file with `O_NOFOLLOW`): links, FIFOs, sockets, devices and files that another account owns are left out,
  and named in the intake report (and, at `nbgrader submit`, to the student): copied *without* them, not
  rejected, so that an honest folder with a link to its data is still graded;
- each submission has its own limits: `CourseDirectory.max_dir_size` (kB, nbgrader's setting: 100 MB),
  `CourseDirectory.max_file_size` (kB: a larger file is left out, as nbgrader does) and
  `ExchangeCollect.max_files` (entries, default 1000). A submission past them is rejected with the reason,
  the student's next older folder is tried, and the class goes on;
- a submission is copied into a folder of its own beside the target and renamed into place: the one
  collected before stays until its replacement is completely copied;
- the time of a submission is the one its name claims unless the folder was changed later than that (its
  files' change times, which a student cannot set back): then the later time, less `change_tolerance_s`,
  is the one written to `timestamp.txt` (late penalties read it);
- a folder whose name cannot be read is rejected alone (nbgrader's own collect stops the whole class).

**Submit** (`CourseSubmit`) copies the student's folder the same way (no links) and leaves the submission
readable by the grader's group only (nbgrader's makes it 0777).
"""

from __future__ import annotations

import datetime as dt
import errno
import fnmatch
import glob
import grp
import json
import os
import pwd
import secrets
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.exchange.default import (ExchangeCollect, ExchangeFetchAssignment, ExchangeFetchFeedback,
                                       ExchangeList, ExchangeReleaseAssignment, ExchangeReleaseFeedback,
                                       ExchangeSubmit)
from nbgrader.utils import parse_utc
from traitlets import Float, Int

from .records import COLLECT_NOTES

ROOT_MODE = 0o755
COURSE_MODE = 0o755
OUTBOUND_MODE = 0o755
INBOUND_MODE = 0o3733       # setgid + sticky, -wx for others
FEEDBACK_MODE = 0o711
SUBMISSION_DIR_MODE = 0o750
SUBMISSION_FILE_MODE = 0o640
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


# ----------------------------------------------------------------------------- the layout

def _name_of_uid(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _course_folders(root, course_id):
    course = Path(root, course_id)
    return [(course, "the course's folder"), (course / "outbound", "the released assignments' folder"),
            (course / "feedback", "the feedback folder")]


def layout_problems(root, course_id, instructor=False):
    """What in the exchange at `root` would let a student subvert course `course_id`: one sentence per problem,
    each saying what to change ([] when the layout is safe). `instructor`: also require that the folders the
    instructor's side writes and trusts are owned by root or by this account."""
    me = os.geteuid()
    problems = []

    def status(path, what):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            problems.append(f"{what} {path} is a symbolic link (whoever owns its target controls the exchange): "
                            f"make it a real folder")
            return None
        if not stat.S_ISDIR(info.st_mode):
            problems.append(f"{what} {path} is not a folder")
            return None
        return info

    def owned_by_us(path, what, info):
        if instructor and info.st_uid not in (0, me):
            problems.append(f"{what} {path} is owned by {_name_of_uid(info.st_uid)}, neither root nor "
                            f"{_name_of_uid(me)}: its owner could replace what students fetch and submit; "
                            f"`chown {_name_of_uid(me)} {path}` as root")

    try:
        info = os.stat(root)   # the root may be a link an administrator made; what is in it must not be
    except FileNotFoundError:
        return [f"the exchange {root} does not exist: the instructor's first `nbgrader release_assignment` creates it "
                f"(on a hub, `dl-course hub up` does)"]
    if info.st_mode & 0o022:
        problems.append(f"the exchange {root} can be written by other accounts (mode {stat.S_IMODE(info.st_mode):04o}): "
                        f"a student could rename the course's folder away and put one of their own in its place; "
                        f"`chmod 755 {root}` (its owner or root; `dl-course setup` does it for the course's own exchange)")
    owned_by_us(root, "the exchange", info)
    for path, what in _course_folders(root, course_id):
        info = status(path, what)
        if info is None:
            continue
        if info.st_mode & 0o022:
            problems.append(f"{what} {path} can be written by other accounts (mode {stat.S_IMODE(info.st_mode):04o}): "
                            f"a student could replace what it holds; `chmod go-w {path}`")
        owned_by_us(path, what, info)
    inbound = Path(root, course_id, "inbound")
    info = status(inbound, "the submissions' folder")
    if info is not None:
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o002 and not mode & stat.S_ISVTX:
            problems.append(f"the submissions' folder {inbound} can be written by every account without the sticky "
                            f"bit (mode {mode:04o}): a student could rename or delete another student's submission; "
                            f"`chmod {INBOUND_MODE:o} {inbound}`")
        if mode & 0o004:
            problems.append(f"the submissions' folder {inbound} can be listed by every account (mode {mode:04o}): a "
                            f"student could find another student's submission by name; `chmod o-r {inbound}`")
        owned_by_us(inbound, "the submissions' folder", info)
    return problems


def make_layout(root, course_id, owner=None, group=None):
    """Create (or tighten) the exchange at `root` with the course's folders as the table above says: the root
    owned by this account (root on a hub; an existing root only loses the write bits of others), the course's
    folders by `owner` (a user name; default: this account) with `group` (default: the owner's) on the
    submissions' folder. Returns the course's folder."""
    root = Path(root)
    if not root.exists():
        root.mkdir(parents=True)
        os.chmod(root, ROOT_MODE)
    elif stat.S_IMODE(root.stat().st_mode) & 0o022:   # an existing root is only tightened (0711 stays 0711)
        os.chmod(root, stat.S_IMODE(root.stat().st_mode) & ~0o022)
    uid = pwd.getpwnam(owner).pw_uid if owner else os.geteuid()
    gid = grp.getgrnam(group).gr_gid if group else (pwd.getpwnam(owner).pw_gid if owner else os.getegid())
    course = root / course_id
    for path, mode in ((course, COURSE_MODE), (course / "outbound", OUTBOUND_MODE),
                       (course / "inbound", INBOUND_MODE), (course / "feedback", FEEDBACK_MODE)):
        path.mkdir(exist_ok=True)
        if (os.lstat(path).st_uid, os.lstat(path).st_gid) != (uid, gid):
            os.chown(path, uid, gid, follow_symlinks=False)
        os.chmod(path, mode)
    return course


class TrustNoFile:
    """Mixin for nbgrader's exchange steps: refuse an exchange whose layout a student could subvert (instead of
    nbgrader's check that every account may write the root, which is the hole)."""

    instructor_side = False   # the steps that write and trust the course's folders

    def ensure_root(self):
        problems = layout_problems(self.root, self.coursedir.course_id, instructor=self.instructor_side)
        if problems:
            self.fail("The exchange is not safe to use: " + " ".join(problems))


class CourseList(TrustNoFile, ExchangeList):
    """nbgrader list (the Assignments tab), on a safe exchange only."""


class CourseFetchAssignment(TrustNoFile, ExchangeFetchAssignment):
    """nbgrader fetch_assignment, on a safe exchange only."""


class CourseFetchFeedback(TrustNoFile, ExchangeFetchFeedback):
    """nbgrader fetch_feedback, on a safe exchange only."""


class CourseReleaseFeedback(TrustNoFile, ExchangeReleaseFeedback):
    """nbgrader release_feedback, into a feedback folder only the grader writes. A student whose submission did not
    come through the exchange (collected from LMS files: no `submission_secret.txt`, which names the feedback in the
    exchange) is skipped with one line saying where their feedback goes, instead of nbgrader's traceback that
    stops the release for everyone."""

    instructor_side = True

    def copy_files(self):
        without = sorted({Path(page).parent.parent.name for page in glob.glob(os.path.join(self.src_path, "*.html"))
                          if not os.path.isfile(os.path.join(os.path.dirname(page), "submission_secret.txt"))})
        for student in without:
            self.log.warning("%s: not released through the exchange (the submission came from LMS or Colab files, not "
                             "the exchange): `dl-course return %s` packs this feedback for the LMS", student,
                             self.coursedir.assignment_id)
        excluded = self.coursedir.student_id_exclude
        self.coursedir.student_id_exclude = ",".join(filter(None, [excluded, *without]))
        try:
            super().copy_files()
        finally:
            self.coursedir.student_id_exclude = excluded


class CourseReleaseAssignment(TrustNoFile, ExchangeReleaseAssignment):
    """nbgrader release_assignment: creates a missing exchange root as 0755 (nbgrader's is 0777, which lets any
    student rename the course's folder away), the course's folders as `make_layout` does, and never loosens an
    existing root."""

    instructor_side = True

    def ensure_root(self):
        if not os.path.exists(self.root):
            self.log.warning("Creating exchange directory: %s", self.root)
            try:
                os.makedirs(self.root)
                os.chmod(self.root, ROOT_MODE)
            except PermissionError:
                self.fail(f"Could not create {self.root}, permission denied (on a hub, `dl-course hub up` creates it "
                          f"as root).")
        super().ensure_root()

    def init_dest(self):
        super().init_dest()
        if os.stat(self.inbound_path).st_uid == os.geteuid():   # nbgrader's 2733: add the sticky bit
            os.chmod(self.inbound_path, INBOUND_MODE | (stat.S_IRGRP if self.coursedir.groupshared else 0))


# ----------------------------------------------------------------------------- copying what a student made

class SubmissionRefused(Exception):
    """A submission past its limits: the reason, in words for the intake report."""


@dataclass
class Copied:
    """What `copy_submission` copied and left out."""
    files: int = 0                                  # files and folders copied
    seen: int = 0                                   # bytes of every file found (left out or not)
    left_out: list = field(default_factory=list)   # [(relative path, why)]
    last_change: float = 0.0                        # the latest change time (ctime) of anything copied

    def describe_left_out(self):
        return "; ".join(f"{path} ({why})" for path, why in self.left_out)


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "a symbolic link: submissions hold files only"
    if stat.S_ISFIFO(mode):
        return "a FIFO: submissions hold files only"
    if stat.S_ISSOCK(mode):
        return "a socket: submissions hold files only"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device: submissions hold files only"
    return "not a regular file"


def copy_submission(src, dest, max_bytes, max_files, max_file_bytes=None, ignore=(), owner=None, reserved=()):
    """Copy the folder `src` to the new folder `dest` without following any link, and return `Copied`.

    Walks with `os.fwalk` (a folder swapped for a link while it runs is not entered) and opens each file with
    O_NOFOLLOW | O_NONBLOCK, checking what was opened: only regular files (owned by `owner`, a uid, when given)
    are copied; anything else is left out and named. More than `max_files` entries or `max_bytes` bytes raise
    SubmissionRefused before the data past the limit is read. `ignore`: nbgrader's name globs (left out
    silently); `reserved`: names only the collector writes (left out and named)."""
    copied = Copied()
    os.mkdir(dest, 0o700)
    top = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        top_info = os.fstat(top)
        if owner is not None and top_info.st_uid != owner:
            raise SubmissionRefused(f"the folder is owned by {_name_of_uid(top_info.st_uid)}")
        copied.last_change = top_info.st_ctime
        for dirpath, dirnames, filenames, dirfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            copied.last_change = max(copied.last_change, os.fstat(dirfd).st_ctime)
            keep = []
            for name in sorted(dirnames):
                relative = os.path.normpath(os.path.join(dirpath, name))
                if any(fnmatch.fnmatch(name, glob) for glob in ignore):
                    continue
                why = _not_taken(os.stat(name, dir_fd=dirfd, follow_symlinks=False), owner, stat.S_ISDIR)
                if why:
                    copied.left_out.append((relative, why))
                    continue
                _count(copied, max_files)
                os.mkdir(os.path.join(dest, relative))
                keep.append(name)
            dirnames[:] = keep
            for name in sorted(filenames):
                relative = os.path.normpath(os.path.join(dirpath, name))
                if any(fnmatch.fnmatch(name, glob) for glob in ignore):
                    continue
                if relative in reserved:
                    copied.left_out.append((relative, "a name the collector writes itself"))
                    continue
                _copy_file(name, dirfd, os.path.join(dest, relative), relative, copied, max_bytes, max_files,
                           max_file_bytes, owner)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    finally:
        os.close(top)
    return copied


def _not_taken(info, owner, wanted):
    """Why an entry is left out of a copy (not of the `wanted` kind, or another account's), or ""."""
    if not wanted(info.st_mode):
        return _kind(info.st_mode)
    if owner is not None and info.st_uid != owner:
        return f"{_name_of_uid(info.st_uid)}'s, not the student's"
    return ""


def _count(copied, max_files):
    copied.files += 1
    if copied.files > max_files:
        raise SubmissionRefused(f"more than {max_files} files and folders (ExchangeCollect.max_files)")


def _copy_file(name, dirfd, target, relative, copied, max_bytes, max_files, max_file_bytes, owner):
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dirfd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            copied.left_out.append((relative, _kind(stat.S_IFLNK)))
        else:
            info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            copied.left_out.append((relative, _kind(info.st_mode) if not stat.S_ISREG(info.st_mode)
                                    else f"unreadable ({error.strerror})"))
        return
    with open(fd, "rb", closefd=True) as source:
        info = os.fstat(fd)
        why = _not_taken(info, owner, stat.S_ISREG)
        if why:
            copied.left_out.append((relative, why))
            return
        copied.seen += info.st_size   # every file counts towards the submission's size, also one left out below
        if copied.seen > max_bytes:
            raise SubmissionRefused(f"{relative} makes the submission larger than {max_bytes} bytes "
                                    f"(CourseDirectory.max_dir_size)")
        if max_file_bytes is not None and info.st_size > max_file_bytes:
            copied.left_out.append((relative, f"{info.st_size} bytes, larger than {max_file_bytes} "
                                              f"(CourseDirectory.max_file_size)"))
            return
        _count(copied, max_files)
        copied.last_change = max(copied.last_change, info.st_ctime)
        remaining = info.st_size   # never more than the size it had when it was judged
        with open(target, "xb") as out:
            while chunk := source.read(min(1 << 20, remaining + 1)):
                remaining -= len(chunk)
                if remaining < 0:
                    raise SubmissionRefused(f"{relative} grew while it was being collected")
                out.write(chunk)


def last_change(path, max_entries):
    """The latest change time (ctime) of a folder and of everything in it, links not followed and no data read;
    after `max_entries` entries the walk stops (such a folder is refused when it is copied)."""
    latest, seen = os.lstat(path).st_ctime, 0
    for _, dirnames, filenames, dirfd in os.fwalk(path, follow_symlinks=False):
        latest = max(latest, os.fstat(dirfd).st_ctime)
        for name in dirnames + filenames:
            latest = max(latest, os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_ctime)
            seen += 1
            if seen > max_entries:
                return latest
    return latest


def replace_folder(new, target):
    """Put the complete folder `new` at `target`: what was there stays until `new` is in place."""
    target = Path(target)
    if not target.exists():
        os.rename(new, target)
        return
    old = target.with_name(f".{target.name}.replaced-{secrets.token_hex(4)}")
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- submit

class CourseSubmit(TrustNoFile, ExchangeSubmit):
    """nbgrader submit: the folder copied without links (each one left out is named to the student), the
    submission readable by the grader's group only (nbgrader leaves it 0777: any student who learns its name can
    write into it)."""

    max_files = Int(1000, help="The most files and folders one submission may hold.").tag(config=True)

    def do_copy(self, src, dest, log=None):
        try:
            copied = copy_submission(src, dest, max_bytes=1000 * self.coursedir.max_dir_size, max_files=self.max_files,
                                     max_file_bytes=1000 * self.coursedir.max_file_size, ignore=self.coursedir.ignore)
        except SubmissionRefused as error:
            self.fail(f"Not submitted: {error}. Remove what the exercise does not need and submit again.")
        for path, why in copied.left_out:
            self.log.warning("Not submitted: %s (%s)", path, why)

    def set_perms(self, dest, fileperms, dirperms):
        super().set_perms(dest, SUBMISSION_FILE_MODE, SUBMISSION_DIR_MODE)

    def copy_files(self):
        super().copy_files()
        os.chmod(os.path.join(self.inbound_path, self.assignment_filename), SUBMISSION_DIR_MODE)


# ----------------------------------------------------------------------------- collect

@dataclass
class Folder:
    """One folder of the submissions' folder, as collect judged it."""
    name: str
    path: str
    named: str = ""                  # the student its name claims
    owner: str = ""                  # its Linux owner
    claimed: dt.datetime | None = None
    problem: str = ""                # why it is not taken ("" = a candidate)
    foreign: bool = False            # made by another account than the student it names


class CourseCollect(TrustNoFile, ExchangeCollect):
    """nbgrader collect that takes only what a student could honestly have submitted (the module's rules)."""

    instructor_side = True
    max_files = Int(1000, help="The most files and folders one submission may hold; a larger one is rejected "
                               "(that student alone).").tag(config=True)
    change_tolerance_s = Float(120.0, help="How much later than the time its name claims a submission's files may "
                                           "have changed before the change time is taken as its time.").tag(config=True)

    # -- what is in the submissions' folder

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        if not os.access(self.inbound_path, os.R_OK | os.X_OK):
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
            self.students = {s.id for s in gb.students}
        self.folders = self._read_folders()

    def _read_folders(self):
        me = os.geteuid()
        wanted = self.coursedir.student_id or "*"
        folders = []
        for entry in sorted(os.scandir(self.inbound_path), key=lambda e: e.name):
            parts = entry.name.rsplit("+", 3)
            if len(parts) < 3 or parts[1] != self.coursedir.assignment_id:
                continue
            if wanted != "*" and not fnmatch.fnmatch(parts[0], wanted):
                continue
            info = entry.stat(follow_symlinks=False)
            folder = Folder(entry.name, entry.path, named=parts[0], owner=_name_of_uid(info.st_uid))
            try:
                folder.claimed = parse_utc(parts[2])
            except (ValueError, OverflowError, TypeError):
                folder.problem = f"its name has no readable time ({parts[2]!r})"
            if not stat.S_ISDIR(info.st_mode):
                folder.problem = f"not a folder ({_kind(info.st_mode)})"
            elif self.check_owner and info.st_uid != me and folder.owner != folder.named:
                folder.problem, folder.foreign = f"submitted by {folder.owner} under {folder.named}'s name", True
            folders.append(folder)
        return folders

    def init_dest(self):
        pass

    # -- taking them

    def copy_files(self):
        impostors = {}   # owner -> [Folder] made under another student's name
        for folder in self.folders:
            if folder.foreign:
                impostors.setdefault(folder.owner, []).append(folder)
                self.log.warning("Rejected %s: %s (cheating attempt?); %s's own submission is flagged for review",
                                 folder.name, folder.problem, folder.owner)
            elif folder.problem:
                self.log.warning("Rejected %s: %s", folder.name, folder.problem)
        candidates = {}
        for folder in self.folders:
            if not folder.problem:
                candidates.setdefault(folder.named, []).append(folder)
        if not candidates:
            self.log.warning("No submissions of '%s' for course '%s' to collect", self.coursedir.assignment_id,
                             self.coursedir.course_id)
        rows = {}
        for student, folders in sorted(candidates.items()):
            rows[student] = self._collect_student(student, self._ordered(folders), impostors.get(student, []))
        for owner, folders in impostors.items():
            if owner not in rows:
                rows[owner] = self._flag_earlier(owner, folders)
        for folder in self.folders:   # the named student is told too
            if folder.foreign and folder.named in rows:
                row = rows[folder.named]
                row["detail"] = "; ".join(filter(None, [row["detail"], f"{folder.name} rejected: {folder.problem}"]))
            elif folder.problem and not folder.foreign and folder.named not in candidates:
                rows.setdefault(folder.named, self._row(folder.named, "rejected", f"{folder.name}: {folder.problem}", folder))
        self._write_report(rows)

    def _flag_earlier(self, owner, folders):
        """The row of a student who made folders under others' names and handed in nothing new: the submission
        collected from them before (if any) gets the review note; otherwise they are rejected."""
        notes = [f"flagged for review: submitted {f.name} under {f.named}'s name" for f in folders]
        target = Path(self.coursedir.format_path(self.coursedir.submitted_directory, owner,
                                                 self.coursedir.assignment_id))
        if not target.is_dir():
            return self._row(owner, "rejected", "; ".join(f"{f.name}: {f.problem}" for f in folders), folders[0])
        _add_notes(target, notes)
        return self._row(owner, "unchanged", "; ".join(["collected before", *notes]), folders[0])

    def _ordered(self, folders):
        """The folders of one student in the order nbgrader takes them: newest first, or with
        `--before-duedate` the newest before the due date first."""
        newest = sorted(folders, key=lambda f: f.claimed, reverse=True)
        if self.before_duedate and self.duedate is not None:
            before = [f for f in newest if f.claimed <= self.duedate]
            return before + [f for f in newest if f not in before]
        return newest

    def _collect_student(self, student, folders, impostor_folders):
        """Collect a student's newest acceptable folder; returns the intake report row."""
        target = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student,
                                                 self.coursedir.assignment_id))
        notes = [f"flagged for review: submitted {f.name} under {f.named}'s name" for f in impostor_folders]
        refused = []
        exists = target.is_dir()
        existing = self.coursedir.get_existing_timestamp(str(target)) if exists else None
        if exists and not self.update and not self.before_duedate:
            self.log.info("Submission already exists, use --update to update: %s %s", student,
                          self.coursedir.assignment_id)
            _add_notes(target, notes)
            return self._row(student, "unchanged", "; ".join(["collected before (--update takes a newer one)",
                                                               *notes]), folders[0])
        made_parent = not target.parent.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        for folder in folders:
            try:   # whether it is newer, from the folder's metadata alone: an unchanged class is not copied again
                when, changed = self._trusted_time(folder, last_change(folder.path, self.max_files))
            except OSError as error:
                refused.append(f"{folder.name} rejected: could not be read ({error.strerror})")
                continue
            newer = existing is None or (self.update and when > existing) or (self.before_duedate and when != existing)
            if exists and not newer:
                _add_notes(target, notes)
                self.log.info("No newer submission to collect: %s %s", student, self.coursedir.assignment_id)
                return self._row(student, "unchanged", "; ".join(["the newest folder was collected before",
                                                                   *refused, *notes]), folder, when)
            staging = Path(target.parent, f".{target.name}.collecting-{secrets.token_hex(4)}")
            try:
                copied = copy_submission(folder.path, staging, max_bytes=1000 * self.coursedir.max_dir_size,
                                         max_files=self.max_files, max_file_bytes=1000 * self.coursedir.max_file_size,
                                         ignore=self.coursedir.ignore,
                                         owner=os.lstat(folder.path).st_uid if self.check_owner else None,
                                         reserved=(COLLECT_NOTES,))
            except (SubmissionRefused, OSError) as error:
                why = str(error) if isinstance(error, SubmissionRefused) else f"could not be read ({error.strerror})"
                self.log.warning("Rejected %s: %s", folder.name, why)
                refused.append(f"{folder.name} rejected: {why}")
                continue
            when, changed = self._trusted_time(folder, copied.last_change)   # a change while copying counts too
            self._finish(staging, when, [*_notes_of(target), *notes])   # a newer folder keeps earlier notes
            replace_folder(staging, target)
            self.log.info("%s submission: %s %s", "Updating" if exists else "Collecting", student,
                          self.coursedir.assignment_id)
            if copied.left_out:
                self.log.warning("%s: left out of %s: %s", student, folder.name, copied.describe_left_out())
            detail = [*refused, *notes, *changed]
            if copied.left_out:
                detail.append("left out: " + copied.describe_left_out())
            return self._row(student, "collected", "; ".join(detail), folder, when)
        if target.is_dir():
            _add_notes(target, notes)
        if made_parent:
            target.parent.rmdir()   # nothing of this student's in submitted/, as before
        kept = "; the submission collected before stays" if target.is_dir() else ""
        return self._row(student, "rejected", "; ".join([*refused, *notes]) + kept, folders[0])

    def _trusted_time(self, folder, last_changed):
        """The submission's time: the one its name claims, unless its files changed later than that (`last_changed`,
        the latest ctime in the folder, which no user can set back)."""
        changed = dt.datetime.fromtimestamp(last_changed, dt.timezone.utc).replace(tzinfo=None)
        if changed - dt.timedelta(seconds=self.change_tolerance_s) > folder.claimed:
            when = changed - dt.timedelta(seconds=self.change_tolerance_s)
            return when, [f"its files changed at {changed:%Y-%m-%d %H:%M:%S} UTC, later than the time its name "
                          f"claims ({folder.claimed:%Y-%m-%d %H:%M:%S} UTC): {when:%Y-%m-%d %H:%M:%S} UTC taken"]
        return folder.claimed, []

    def _finish(self, staging, when, notes):
        """The files only the collector writes: the trusted time, a feedback secret when the folder had none
        (release_feedback needs one for every student), and the review notes."""
        (staging / "timestamp.txt").write_text(when.strftime(TIMESTAMP_FORMAT))
        if not (staging / "submission_secret.txt").is_file():
            (staging / "submission_secret.txt").write_text(secrets.token_hex(64))
        if notes:
            (staging / COLLECT_NOTES).write_text(json.dumps({"flags": sorted(set(notes))}, indent=1) + "\n")
        os.chmod(staging, 0o755)   # created 0700 while it was being copied

    def _row(self, student, status, detail, folder, when=None):
        from .intake import REPORT_FIELDS

        when = when or folder.claimed
        return {**dict.fromkeys(REPORT_FIELDS, ""), "student": student, "status": status, "detail": detail,
                "file": folder.path, "upload": folder.name, "timestamp": when.isoformat(sep=" ") if when else ""}

    def _write_report(self, rows):
        from .intake import REPORT_FIELDS, format_report, write_report

        if self.coursedir.student_id in ("", "*"):   # the whole class: say who submitted nothing
            for student in sorted(self.students - set(rows)):
                target = self.coursedir.format_path(self.coursedir.submitted_directory, student,
                                                    self.coursedir.assignment_id)
                status, detail = (("unchanged", "collected before") if os.path.isdir(target)
                                  else ("missing", "on the roster, nothing submitted"))
                rows[student] = {**dict.fromkeys(REPORT_FIELDS, ""), "student": student, "status": status,
                                 "detail": detail}
        ordered = [rows[s] for s in sorted(rows)]
        if ordered:
            path = write_report(ordered, Path(self.coursedir.root, "reports", self.coursedir.assignment_id, "intake.csv"))
            self.log.info("Intake report (%s):\n%s", path, format_report(ordered))



def _notes_of(target):
    """The review notes the collector left beside a submission it collected before."""
    path = Path(target, COLLECT_NOTES)
    return json.loads(path.read_text()).get("flags", []) if path.is_file() and not path.is_symlink() else []


def _add_notes(target, notes):
    """Add review notes to the collector's note file of a submission collected before (none: nothing to do)."""
    if not notes:
        return
    merged = sorted(set(_notes_of(target)) | set(notes))
    path = Path(target, COLLECT_NOTES)
    path.unlink(missing_ok=True)
    path.write_text(json.dumps({"flags": merged}, indent=1) + "\n")
