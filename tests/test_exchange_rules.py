"""The exchange trusts no file a student can write: each rule of the course's collect and submit
(course/grading/exchange.py) against the submission that would break it, without a hub.

Students are real Linux accounts (created for the module, removed after), so that folders have the owners a
shared exchange gives them; the collector runs as this account (root), as the grader does on a hub. The
rules: a folder owned by someone other than the student it names is rejected and its maker flagged; links,
FIFOs, sockets and other accounts' files are left out and named; limits reject one student and never stop the
class; the earlier submission stays until its replacement is complete; a time claimed earlier than the files
changed is not believed; a folder name that cannot be read rejects itself alone; an exchange whose permissions
a student could subvert is refused, saying what to change; submit copies no link and leaves the submission
private. The same rules for LMS files: zip members that are links, zip bombs and names that climb out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import pwd
import socket
import stat
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course.grading.exchange import (INBOUND_MODE, SUBMISSION_DIR_MODE, SUBMISSION_FILE_MODE, CourseCollect,
                                     CourseSubmit, layout_problems, make_layout)
from course.grading.records import COLLECT_NOTES, RecordSubmission, entries

COURSE, EXERCISE = "dl-course", "ex01_numpy_dnn"
ANA, BEN, CAT = "dlx-ana", "dlx-ben", "dlx-cat"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the exchange rules need accounts of their own: run as root")


@pytest.fixture(scope="module")
def accounts():
    made = []
    try:
        for name in (ANA, BEN, CAT):
            subprocess.run(["userdel", name], capture_output=True)
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
            made.append(name)
        yield {name: pwd.getpwnam(name) for name in made}
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def course(tmp_path, accounts):
    """A course root with the three students in its gradebook, and an exchange with the safe layout."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    from course.grading.engine import create_empty_gradebook

    root = tmp_path / "course"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    db = root / "gradebook.db"
    create_empty_gradebook(str(db))
    with Gradebook(f"sqlite:///{db}", COURSE) as gb:
        for name in accounts:
            gb.update_or_create_student(name)
    exchange = tmp_path / "exchange"
    make_layout(exchange, COURSE)
    coursedir = CourseDirectory(root=str(root), course_id=COURSE, db_url=f"sqlite:///{db}")
    coursedir.assignment_id = EXERCISE
    return coursedir, exchange


def stamp(minutes_ago=0):
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def notebook(text):
    return nbformat.writes(new_notebook(cells=[new_code_cell(f"answer = {text!r}")]))


def hand_in(exchange, owner, named=None, text=None, minutes_ago=0, extra=None):
    """A submission folder in the inbound folder, made (and owned) by `owner` under `named`'s name."""
    folder = exchange / COURSE / "inbound" / f"{named or owner}+{EXERCISE}+{stamp(minutes_ago)}+{os.urandom(3).hex()}"
    folder.mkdir()
    (folder / f"{EXERCISE}.ipynb").write_text(notebook(text or f"work of {owner}"))
    (folder / "timestamp.txt").write_text(stamp(minutes_ago))
    for make in extra or ():
        make(folder)
    account = pwd.getpwnam(owner)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
    return folder


def collect(coursedir, exchange, update=False, **settings):
    app = CourseCollect(coursedir=coursedir, root=str(exchange), update=update, **settings)
    app.start()
    with open(Path(coursedir.root, "reports", EXERCISE, "intake.csv")) as handle:
        import csv
        return {row["student"]: row for row in csv.DictReader(handle)}


def submitted(coursedir, student):
    return Path(coursedir.format_path(coursedir.submitted_directory, student, EXERCISE))


def collected_text(coursedir, student):
    nb = nbformat.read(submitted(coursedir, student) / f"{EXERCISE}.ipynb", as_version=4)
    return nb.cells[0].source


# ----------------------------------------------------------------------------- who submitted it

def test_a_folder_made_under_another_students_name_is_rejected_and_its_maker_flagged(course):
    coursedir, exchange = course
    hand_in(exchange, ANA, minutes_ago=10, text="ana's own")
    hand_in(exchange, BEN, minutes_ago=10, text="ben's own")
    hand_in(exchange, BEN, named=ANA, text="ben's, under ana's name")   # newer than ana's own
    hand_in(exchange, CAT, named=ANA, text="cat's, under ana's name")   # cat has no submission of her own

    rows = collect(coursedir, exchange)

    assert collected_text(coursedir, ANA) == "answer = \"ana's own\""
    assert "under dlx-ana's name" in rows[ANA]["detail"] and rows[ANA]["status"] == "collected"
    assert rows[BEN]["status"] == "collected" and "flagged for review" in rows[BEN]["detail"]
    assert collected_text(coursedir, BEN) == "answer = \"ben's own\""
    assert rows[CAT]["status"] == "rejected"
    assert f"submitted by {CAT} under {ANA}'s name" in rows[CAT]["detail"]
    assert not submitted(coursedir, CAT).parent.exists()
    # the note becomes a flag of ben's graded notebook; ana's submission carries none
    assert not (submitted(coursedir, ANA) / COLLECT_NOTES).exists()
    assert flags_of(coursedir, BEN) and "under dlx-ana's name" in flags_of(coursedir, BEN)[0]["reason"]
    assert flags_of(coursedir, ANA) == []


def flags_of(coursedir, student):
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = coursedir.root
    nb, _ = RecordSubmission(config=config).preprocess(new_notebook(), {"nbgrader": {"student": student,
                                                                                    "assignment": EXERCISE}})
    return entries(nb, "flags")


def test_a_student_collected_before_who_then_hands_in_under_another_name_is_flagged_on_that_submission(course):
    coursedir, exchange = course
    hand_in(exchange, BEN, minutes_ago=30)
    collect(coursedir, exchange)
    assert flags_of(coursedir, BEN) == []
    hand_in(exchange, BEN, named=ANA)
    rows = collect(coursedir, exchange, update=True)
    assert rows[BEN]["status"] == "unchanged" and "flagged for review" in rows[BEN]["detail"]
    assert "under dlx-ana's name" in flags_of(coursedir, BEN)[0]["reason"]


def test_a_note_that_is_not_the_collectors_is_a_flag_not_a_failed_grading(course):
    coursedir, _ = course
    folder = submitted(coursedir, CAT)
    folder.mkdir(parents=True)
    (folder / COLLECT_NOTES).write_text("{not json")
    assert "not the collector's note" in flags_of(coursedir, CAT)[0]["reason"]


def test_a_students_own_file_named_like_the_collectors_note_is_never_collected(course):
    coursedir, exchange = course
    forged = lambda folder: (folder / COLLECT_NOTES).write_text(json.dumps({"flags": []}))   # noqa: E731
    hand_in(exchange, BEN, extra=[forged])
    hand_in(exchange, BEN, named=ANA)
    rows = collect(coursedir, exchange)
    assert "a name the collector writes itself" in rows[BEN]["detail"]
    assert flags_of(coursedir, BEN), "ben's forged empty note replaced the collector's"


# ----------------------------------------------------------------------------- what is copied

def test_links_fifos_sockets_and_other_accounts_files_are_left_out_and_named(course, tmp_path):
    coursedir, exchange = course
    secret = tmp_path / "hidden_tests.py"
    secret.write_text("HIDDEN TEST CODE")
    holder = []

    def hostile(folder):
        (folder / "gradebook.db").symlink_to(Path(coursedir.root) / "gradebook.db")
        (folder / "environ").symlink_to("/proc/self/environ")
        (folder / "shadow").symlink_to("/etc/shadow")
        (folder / "tests.py").symlink_to(secret)
        (folder / "etc").symlink_to("/etc")
        os.mkfifo(folder / "pipe")
        server = socket.socket(socket.AF_UNIX)
        with contextlib.chdir(folder):   # a socket's path is short: bound by its name in its folder
            server.bind("sock")
        holder.append(server)
        (folder / "data").mkdir()
        (folder / "data" / "notes.txt").write_text("mine")

    folder = hand_in(exchange, BEN, extra=[hostile])
    planted = folder / "data" / "planted.txt"    # a file of ana's inside ben's folder
    planted.write_text("ana's")
    os.chown(planted, pwd.getpwnam(ANA).pw_uid, -1)
    try:
        rows = collect(coursedir, exchange)
    finally:
        holder[0].close()

    copied = {p.relative_to(submitted(coursedir, BEN)).as_posix() for p in submitted(coursedir, BEN).rglob("*")}
    assert copied == {f"{EXERCISE}.ipynb", "timestamp.txt", "submission_secret.txt", "data", "data/notes.txt"}
    assert not any(p.is_symlink() for p in submitted(coursedir, BEN).rglob("*"))
    detail = rows[BEN]["detail"]
    for name, why in [("gradebook.db", "symbolic link"), ("environ", "symbolic link"), ("shadow", "symbolic link"),
                      ("tests.py", "symbolic link"), ("etc", "symbolic link"), ("pipe", "FIFO"), ("sock", "socket"),
                      ("data/planted.txt", f"{ANA}'s")]:
        assert f"{name} (" in detail and why in detail.split(f"{name} (", 1)[1].split(")")[0], (name, detail)
    everything = b"".join(p.read_bytes() for p in submitted(coursedir, BEN).rglob("*") if p.is_file())
    assert b"HIDDEN TEST CODE" not in everything and b"SQLite format" not in everything


# ----------------------------------------------------------------------------- limits, atomic replacement

def test_an_oversized_or_crowded_submission_rejects_that_student_alone_and_keeps_the_earlier_one(course):
    coursedir, exchange = course
    coursedir.max_dir_size = 1000   # kB
    hand_in(exchange, ANA, minutes_ago=20, text="ana first")
    hand_in(exchange, BEN, minutes_ago=20, text="ben first")
    collect(coursedir, exchange)

    def huge(folder):
        with open(folder / "weights.bin", "wb") as handle:
            handle.truncate(150_000_000)   # 150 MB that costs nothing to make (sparse): past both limits

    def crowded(folder):
        for i in range(60):
            (folder / f"f{i}.txt").write_text("x")

    hand_in(exchange, BEN, minutes_ago=5, text="ben's huge one", extra=[huge])
    hand_in(exchange, ANA, minutes_ago=5, text="ana second")
    hand_in(exchange, CAT, minutes_ago=5, extra=[crowded])
    rows = collect(coursedir, exchange, update=True, max_files=50)

    assert collected_text(coursedir, ANA) == "answer = 'ana second'" and rows[ANA]["status"] == "collected"
    assert collected_text(coursedir, BEN) == "answer = 'ben first'", "ben's earlier submission was lost"
    assert "weights.bin makes the submission larger than 1000000 bytes" in rows[BEN]["detail"]
    assert rows[CAT]["status"] == "rejected" and "more than 50 files and folders" in rows[CAT]["detail"]
    assert not submitted(coursedir, CAT).parent.exists()
    leftovers = [p.name for p in submitted(coursedir, BEN).parent.iterdir() if p.name != EXERCISE]
    assert leftovers == [], "a half-made copy stayed beside the submission"


def test_collecting_again_leaves_an_unchanged_submission_where_it_is_and_takes_a_changed_one(course):
    coursedir, exchange = course
    folder = hand_in(exchange, ANA, minutes_ago=10)
    collect(coursedir, exchange)
    before = submitted(coursedir, ANA).stat().st_ino
    assert collect(coursedir, exchange, update=True)[ANA]["status"] == "unchanged"
    assert submitted(coursedir, ANA).stat().st_ino == before, "an unchanged submission was copied again"
    (folder / "notes.txt").write_text("added later")   # changing a folder after handing it in makes it newer
    os.chown(folder / "notes.txt", pwd.getpwnam(ANA).pw_uid, -1)
    assert collect(coursedir, exchange, update=True)[ANA]["status"] == "collected"
    assert (submitted(coursedir, ANA) / "notes.txt").is_file()


# ----------------------------------------------------------------------------- names and times

def test_a_time_claimed_earlier_than_the_files_changed_is_not_believed(course):
    coursedir, exchange = course
    hand_in(exchange, ANA)                       # honest: named now, made now
    hand_in(exchange, BEN, minutes_ago=180)      # made now, claims three hours ago (name and timestamp.txt)
    rows = collect(coursedir, exchange)

    def collected_time(student):
        from nbgrader.utils import parse_utc
        return parse_utc((submitted(coursedir, student) / "timestamp.txt").read_text())

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert abs(collected_time(ANA) - now) < dt.timedelta(minutes=1)
    assert now - collected_time(BEN) < dt.timedelta(minutes=5), "ben's backdated time was believed"
    assert "later than the time its name claims" in rows[BEN]["detail"]


def test_a_folder_whose_name_cannot_be_read_rejects_itself_alone(course):
    coursedir, exchange = course
    hand_in(exchange, ANA)
    garbage = exchange / COURSE / "inbound" / f"{BEN}+{EXERCISE}+not a time"
    garbage.mkdir()
    os.chown(garbage, pwd.getpwnam(BEN).pw_uid, -1)
    rows = collect(coursedir, exchange)
    assert rows[ANA]["status"] == "collected"
    assert rows[BEN]["status"] == "rejected" and "no readable time" in rows[BEN]["detail"]


# ----------------------------------------------------------------------------- the layout

def test_an_exchange_a_student_could_subvert_is_refused_saying_what_to_change(course, accounts):
    coursedir, exchange = course
    inbound = exchange / COURSE / "inbound"
    assert layout_problems(exchange, COURSE, instructor=True) == []
    assert stat.S_IMODE(inbound.stat().st_mode) == INBOUND_MODE

    os.chmod(exchange, 0o777)                           # nbgrader's own root
    assert any("chmod 755" in p for p in layout_problems(exchange, COURSE))
    with pytest.raises(Exception, match="not safe to use.*rename the course's folder away"):
        collect(coursedir, exchange)
    os.chmod(exchange, 0o755)
    os.chmod(inbound, 0o2733)                           # nbgrader's inbound: no sticky bit
    assert any("sticky" in p and f"chmod {INBOUND_MODE:o}" in p for p in layout_problems(exchange, COURSE))
    os.chmod(inbound, 0o1737)
    assert any("can be listed" in p for p in layout_problems(exchange, COURSE))
    os.chmod(inbound, INBOUND_MODE)
    os.chown(exchange / COURSE / "outbound", accounts[BEN].pw_uid, -1)   # a student's outbound
    assert any(f"owned by {BEN}" in p for p in layout_problems(exchange, COURSE, instructor=True))


def test_the_course_exchange_on_one_machine_is_created_or_tightened_writable_by_its_owner_only(tmp_path):
    from course.coursedir import ensure_exchange

    fresh, old, private = tmp_path / "fresh", tmp_path / "old", tmp_path / "private"
    assert ensure_exchange(fresh) and stat.S_IMODE(fresh.stat().st_mode) == 0o755
    old.mkdir()
    os.chmod(old, 0o777)
    ensure_exchange(old)
    assert stat.S_IMODE(old.stat().st_mode) == 0o755
    private.mkdir()
    os.chmod(private, 0o711)   # an administrator's root that nobody may list stays so
    make_layout(private, COURSE)
    assert stat.S_IMODE(private.stat().st_mode) == 0o711 and layout_problems(private, COURSE, instructor=True) == []


# ----------------------------------------------------------------------------- submit

def test_submit_leaves_links_out_and_makes_the_submission_private(course, tmp_path, caplog):
    from nbgrader.auth import Authenticator

    coursedir, exchange = course
    release = exchange / COURSE / "outbound" / EXERCISE
    release.mkdir()
    (release / f"{EXERCISE}.ipynb").write_text(notebook("stub"))
    home = tmp_path / "home"
    (home / EXERCISE).mkdir(parents=True)
    (home / EXERCISE / f"{EXERCISE}.ipynb").write_text(notebook("mine"))
    (home / EXERCISE / "environ").symlink_to("/proc/self/environ")
    coursedir.student_id = ANA
    app = CourseSubmit(coursedir=coursedir, authenticator=Authenticator(), root=str(exchange),
                       cache=str(tmp_path / "cache"), assignment_dir=str(home))
    app.start()
    (folder,) = (exchange / COURSE / "inbound").iterdir()
    assert stat.S_IMODE(folder.stat().st_mode) == SUBMISSION_DIR_MODE
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {
        f"{EXERCISE}.ipynb": SUBMISSION_FILE_MODE, "timestamp.txt": SUBMISSION_FILE_MODE,
        "submission_secret.txt": SUBMISSION_FILE_MODE}
    assert "Not submitted: environ (a symbolic link" in caplog.text


# ----------------------------------------------------------------------------- LMS files

def zip_with(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return buffer.getvalue()


def test_lms_zip_members_that_are_links_bombs_or_climb_out_are_rejected_with_the_reason(tmp_path):
    from course.grading.intake import UploadRefused, find_uploads

    link = zipfile.ZipInfo("doejohn_1_2_ex01_numpy_dnn.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    bomb = zipfile.ZipInfo("roesmary_3_4_ex01_numpy_dnn.ipynb")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    path = tmp_path / "submissions.zip"
    path.write_bytes(zip_with([(link, "/etc/shadow"), (bomb, b"0" * 5_000_000),
                               ("../../roejane_5_6_ex01_numpy_dnn.ipynb", notebook("x"))]))
    assert path.stat().st_size < 100_000
    uploads = {u.source.rsplit(":", 1)[1]: u for u in find_uploads([path], max_bytes=1_000_000)}
    reasons = {}
    for name, upload in uploads.items():
        with pytest.raises(UploadRefused) as refused:
            upload.read()
        reasons[name] = str(refused.value)
    assert "symbolic link" in reasons["doejohn_1_2_ex01_numpy_dnn.ipynb"]
    assert "larger than" in reasons["roesmary_3_4_ex01_numpy_dnn.ipynb"]
    assert "climbs out of the zip" in reasons["../../roejane_5_6_ex01_numpy_dnn.ipynb"]
    assert uploads["../../roejane_5_6_ex01_numpy_dnn.ipynb"].relative == "roejane_5_6_ex01_numpy_dnn.ipynb"


def test_a_linked_file_in_a_folder_of_uploads_is_not_followed(tmp_path):
    from course.grading.intake import UploadRefused, find_uploads

    folder = tmp_path / "uploads" / "ana"
    folder.mkdir(parents=True)
    (folder / "ex01_numpy_dnn.ipynb").symlink_to("/etc/shadow")
    (upload,) = find_uploads([tmp_path / "uploads"])
    with pytest.raises(UploadRefused, match="symbolic link"):
        upload.read()


# ----------------------------------------------------------------------------- feedback

def test_release_feedback_skips_students_collected_from_lms_files_with_one_line_and_releases_the_others(course, caplog):
    from course.grading.exchange import CourseReleaseFeedback

    coursedir, exchange = course
    for student, secret in ((ANA, "s3cret"), (BEN, None)):   # ben's submission came from a Canvas zip
        folder = Path(coursedir.format_path(coursedir.feedback_directory, student, EXERCISE))
        folder.mkdir(parents=True)
        (folder / f"{EXERCISE}.html").write_text(f"<p>feedback for {student}</p>")
        (folder / "timestamp.txt").write_text(stamp())
        if secret:
            (folder / "submission_secret.txt").write_text(secret)
    CourseReleaseFeedback(coursedir=coursedir, root=str(exchange)).start()
    released = list((exchange / COURSE / "feedback").glob("*.html"))
    assert [page.read_text() for page in released] == [f"<p>feedback for {ANA}</p>"]
    assert f"{BEN}: not released through the exchange" in caplog.text and f"dl-course return {EXERCISE}" in caplog.text
    assert coursedir.student_id_exclude == ""
