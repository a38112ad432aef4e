"""The whole pipeline on a PostgreSQL gradebook: generate, collect, grade, feedback, export, formgrader.

A real PostgreSQL server (Debian's `postgresql` package, which `.ci/run` installs) is started in a
temporary folder, on a Unix socket only; the test is skipped, with the reason, where none can be
started. SQLite stays the default gradebook.
"""

import csv
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from course import cli, grading
from course.grading.trial import student_form
from submissions import apply_wrong_solution, load_wrong_solutions

pytestmark = pytest.mark.grading
EXERCISE = "ex01_numpy_dnn"


def _postgres_bin(name):
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        pytest.skip(f"PostgreSQL's {name} is not installed (Debian/Ubuntu: apt-get install postgresql)")
    return found


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """The SQLAlchemy URL of a fresh database on a PostgreSQL server of our own."""
    pytest.importorskip("psycopg")
    initdb, pg_ctl, createdb = (_postgres_bin(n) for n in ("initdb", "pg_ctl", "createdb"))
    base = Path(tempfile.mkdtemp(prefix="dl-postgres-"))   # outside pytest's folders, which only we may enter
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    user = None
    if os.geteuid() == 0:   # the server refuses to run as root
        try:
            import pwd

            user = pwd.getpwnam("postgres").pw_uid
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        for path in (base, sockets):
            os.chown(path, user, -1)

    def run(*args):
        return subprocess.run(list(args), capture_output=True, text=True, user=user, timeout=120)

    made = run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    if made.returncode != 0:
        pytest.skip(f"initdb could not create a cluster: {made.stderr.strip()[-300:]}")
    port = _free_port()
    started = run(pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                  f"-c listen_addresses='' -k {sockets} -p {port}", "start")
    if started.returncode != 0:
        pytest.skip(f"the PostgreSQL server did not start: {started.stderr.strip()[-300:]}")
    try:
        created = run(createdb, "-h", str(sockets), "-p", str(port), "-U", "postgres", "gradebook")
        assert created.returncode == 0, created.stderr
        yield f"postgresql+psycopg://postgres@/gradebook?host={sockets}&port={port}"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_generate_collect_grade_feedback_export_and_formgrader_on_postgresql(postgres, tmp_path, capsys):
    course = grading.make_course_copy([EXERCISE], target=tmp_path / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {postgres!r}\n")
    grading.nbgrader(course, "generate_assignment", EXERCISE, "--force")

    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    wrong = apply_wrong_solution(source, load_wrong_solutions(EXERCISE)[2])
    uploads = tmp_path / "uploads"
    for student, nb in (("ada", student_form(source, release)), ("bo", student_form(wrong, release)),
                        ("cy", release)):
        (uploads / student).mkdir(parents=True)
        nbformat.write(nb, uploads / student / f"Copy of {EXERCISE}.ipynb")
    (tmp_path / "roster.csv").write_text("id,first_name,last_name\nada,Ada,L\nbo,Bo,M\ncy,Cy,N\ndee,Dee,O\n")
    assert cli.main(["--course", str(course), "collect", EXERCISE, str(uploads), "--roster",
                     str(tmp_path / "roster.csv")]) == 0
    assert cli.main(["--course", str(course), "grade", EXERCISE, "--workers", "2", "--quiet"]) == 0
    assert "graded 3" in capsys.readouterr().out
    assert not (course / "gradebook.db").exists(), "nothing went to SQLite"

    grading.nbgrader(course, "generate_feedback", EXERCISE)
    assert (course / "feedback" / "ada" / EXERCISE / f"{EXERCISE}.html").is_file()
    grading.nbgrader(course, "export", "--to", str(tmp_path / "grades.csv"))
    with open(tmp_path / "grades.csv", newline="") as handle:
        grades = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert grades["ada"]["score"] == "15.0" and grades["cy"]["score"] == "0.0"
    assert 0 < float(grades["bo"]["score"]) < 15
    assert grades["dee"]["status"] == "missing" and grades["dee"]["score"] == ""

    # The formgrader reads the gradebook through nbgrader's API: the same scores from PostgreSQL.
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from course.grading.engine import load_config

    config = load_config(course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    submissions = {s["student"]: s for s in api.get_submissions(EXERCISE)}
    assert submissions["ada"]["score"] == 15 and submissions["cy"]["score"] == 0
    assert "dee" not in submissions and "dee" in {s["id"] for s in api.get_students()}
    notebooks = api.get_notebook_submissions(EXERCISE, EXERCISE)
    assert {n["student"]: n["score"] for n in notebooks}["bo"] == float(grades["bo"]["score"])
