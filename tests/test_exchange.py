"""The course-local exchange works on one machine out of the box: three students, end to end.

The instructor releases Exercise 1 from a temporary course; three students, each in a home folder of
their own, fetch it, submit their work and later fetch their feedback, with nothing but nbgrader's own
commands. On one machine students name themselves with `--student` (on a JupyterHub their login
name is used); their nbgrader_config.py names the course and the exchange folder.
"""

import re

import nbformat
import pytest

from course import grading
from course.grading.trial import student_form
from submissions import apply_wrong_solution, load_wrong_solutions

pytestmark = pytest.mark.grading
EXERCISE = "ex01_numpy_dnn"
STUDENT_CONFIG = 'c = get_config()\nc.CourseDirectory.course_id = "dl-course"\nc.Exchange.root = {root!r}\n'


def test_release_fetch_submit_collect_grade_and_feedback_for_three_students(tmp_path_factory):
    root = grading.make_course_copy([EXERCISE], target=tmp_path_factory.mktemp("course"))
    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    wrong = apply_wrong_solution(source, load_wrong_solutions(EXERCISE)[0])
    work = {"alice": student_form(source, release), "bob": student_form(wrong, release), "carol": None}

    grading.nbgrader(root, "generate_assignment", EXERCISE, "--force")
    grading.nbgrader(root, "release_assignment", EXERCISE)
    assert (root / "exchange" / "dl-course" / "outbound" / EXERCISE / f"{EXERCISE}.ipynb").is_file()

    homes = {}
    for student, nb in work.items():
        home = homes[student] = tmp_path_factory.mktemp(student)
        (home / "nbgrader_config.py").write_text(STUDENT_CONFIG.format(root=str(root / "exchange")))
        env = {"USER": student, "LOGNAME": student, "HOME": str(home)}
        listing = grading.nbgrader(home, "list", env=env)
        assert EXERCISE in listing
        grading.nbgrader(home, "fetch_assignment", EXERCISE, env=env)
        fetched = home / EXERCISE / f"{EXERCISE}.ipynb"
        assert fetched.is_file()
        if nb is not None:   # carol hands in the notebook as she fetched it
            nbformat.write(nb, fetched)
        grading.nbgrader(home, "submit", EXERCISE, "--student", student, env=env)

    grading.nbgrader(root, "collect", EXERCISE)
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["alice", "bob", "carol"]
    run = grading.nbgrader(root, "autograde", EXERCISE)
    assert "has changed!" not in run, "no checksum noise for released test cells"
    grading.nbgrader(root, "generate_feedback", EXERCISE)
    grading.nbgrader(root, "release_feedback", EXERCISE)

    expected = {"alice": "15.0 / 15.0", "carol": "0.0 / 15.0"}
    for student, home in homes.items():
        env = {"USER": student, "LOGNAME": student, "HOME": str(home)}
        grading.nbgrader(home, "fetch_feedback", EXERCISE, "--student", student, env=env)
        pages = list((home / EXERCISE / "feedback").glob(f"*/{EXERCISE}.html"))
        assert len(pages) == 1, f"{student} got {pages}"
        score = re.search(r"Score: ([0-9.]+ / [0-9.]+)", pages[0].read_text())
        assert score, f"{student}'s feedback has no score"
        if student in expected:
            assert score.group(1) == expected[student]
        else:
            assert 0 < float(score.group(1).split(" / ")[0]) < 15
