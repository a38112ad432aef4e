"""A class on a real JupyterHub, end to end in a real Chromium: `dl-course hub up` on this machine (loopback),
an instructor and two students with Linux accounts and PAM log-in, the course as a hub service.

The instructor generates and releases ex01 in the course's Formgrader; each student fetches it in
JupyterLab's Assignments tab, works on it (ana solves it, ben submits a known wrong solution), saves and
submits; the instructor collects, autogrades (in the sandbox, as the unprivileged grader account), generates
and releases feedback; each student fetches the feedback and opens the HTML. Then: 15 and less than 15 in the
Formgrader, ben is refused the Formgrader and ana's server, and ben's account cannot read ana's files, the
grader's course root, the gradebook or the exchange's inbound submissions; `dl-course grade` run by the grader
account grades the class too. `dl-course hub down` removes every
account, process and folder. Screenshots of each step: test-artifacts/hub/ (git-ignored).

Needs root (accounts, PAM), npm (configurable-http-proxy from its registry) and Chromium; skipped, saying
why, without them. Every server of the hub runs this test's Python environment as its own account: where the
interpreter lives in root's home (pyenv here), the test lets other accounts pass through the folders above it
while the hub runs (`environment_everyone_can_run`), as an administrator makes a course's environment
readable by all.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from accounts import account as _account, environment_everyone_can_run, missing_for_a_hub
from browser import artifact_dir, chromium, free_port
from course import grading
from course.grading.trial import student_form
from submissions import apply_wrong_solution, load_wrong_solutions

EXERCISE = "ex01_numpy_dnn"
INSTRUCTOR, SOLVER, WRONG = "dlh-ines", "dlh-ana", "dlh-ben"
OVERSIZED, NEWCOMER = "dlh-cat", "dlh-dan"   # cat hands in 150 MB by hand; dan joins the class later
GRADER = "grader-dl-course"
PAGE_TIMEOUT = 120_000   # ms: a first log-in spawns the user's JupyterLab


def _missing():
    return missing_for_a_hub((INSTRUCTOR, SOLVER, WRONG, OVERSIZED, NEWCOMER, GRADER))


def as_user(user, *command, input=None):
    return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True, cwd="/", input=input)


@pytest.fixture(scope="module")
def hub():
    problem = _missing()
    if problem:
        pytest.skip(problem)
    folder = Path(tempfile.mkdtemp(prefix="dl-hub-test-", dir="/tmp"))   # readable by the accounts, unlike tmp_path
    os.chmod(folder, 0o755)
    roster = folder / "roster.csv"
    roster.write_text(f"id,first_name,last_name\n{SOLVER},Ana,Alves\n{WRONG},Ben,Brown\n{OVERSIZED},Cat,Cole\n")
    os.chmod(roster, 0o644)
    state_dir, exchange, port = folder / "hub", folder / "exchange", free_port()
    info = {"url": f"http://127.0.0.1:{port}/", "state_dir": state_dir, "exchange": exchange, "down": None}
    try:
        with environment_everyone_can_run() as python:
            info["python"] = python
            up = subprocess.run([python, "-m", "course.cli", "--course", str(grading.ROOT), "hub", "up", "--roster",
                                 str(roster), "--instructors", INSTRUCTOR, "--port", str(port), "--dir", str(state_dir),
                                 "--exchange", str(exchange)], capture_output=True, text=True, timeout=600)
            assert up.returncode == 0, up.stdout + up.stderr
            info["passwords"] = dict(re.findall(r"^  (\S+)  (\S+)$", up.stdout, re.M))
            assert set(info["passwords"]) == {INSTRUCTOR, SOLVER, WRONG, OVERSIZED}, up.stdout
            info["uids"] = {name: pwd.getpwnam(name).pw_uid for name in [*info["passwords"], GRADER]}
            info["folder"] = folder
            info["course_root"] = Path(pwd.getpwnam(GRADER).pw_dir) / "dl-course"
            yield info
    finally:
        if info["down"] is None and (state_dir / "hub-state.json").exists():   # the last test did not get there
            subprocess.run([sys.executable, "-m", "course.cli", "hub", "down", "--dir", str(state_dir)],
                           capture_output=True, text=True, timeout=300)
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- browser steps

class Steps:
    """Screenshots numbered in the order the class lives through them."""

    def __init__(self):
        self.folder, self.count = artifact_dir("hub"), 0

    def shot(self, page, name):
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


def log_in(browser, hub, user, steps):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT)
    page.goto(hub["url"] + "hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub["passwords"][user])
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{user}/lab"))
    page.locator("#jp-main-dock-panel").wait_for()
    steps.shot(page, f"{user}-logged-in")
    return page


def formgrader_action(page, row, cell, steps, name):
    """Click a Formgrader action of a table row; its success dialog is shot and closed (an error fails)."""
    row.locator(f"td.{cell} a").click()
    dialog = page.locator("#success-modal, #error-modal")
    dialog.wait_for(state="visible", timeout=PAGE_TIMEOUT)
    steps.shot(page, name)
    assert page.locator("#error-modal").count() == 0, page.locator("#error-modal").inner_text()
    dialog.get_by_role("button", name="OK").click()
    dialog.wait_for(state="detached")


def open_assignments(page):
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(".lm-Menu-item", has_text="Assignment List").click()
    page.locator("#released_assignments_list, #fetched_assignments_list").first.wait_for()


def contents_api(page, user, path, method="GET", body=None):
    """The user's Jupyter server's contents API, with the log-in cookies and the XSRF token of the page."""
    xsrf = next((c["value"] for c in page.context.cookies() if c["name"] == "_xsrf"), "")
    url = page.url.split(f"/user/{user}/")[0] + f"/user/{user}/api/contents/{path}"
    response = page.request.fetch(url, method=method, headers={"X-XSRFToken": xsrf, "Content-Type": "application/json"},
                                  data=json.dumps(body) if body is not None else None)
    assert response.ok, f"{method} {path}: {response.status} {response.text()[:300]}"
    return response.json()


def student_works_and_submits(browser, hub, user, notebook, steps):
    page = log_in(browser, hub, user, steps)
    open_assignments(page)
    released = page.locator("#released_assignments_list .list_item", has_text=EXERCISE)
    released.wait_for()
    steps.shot(page, f"{user}-sees-the-release")
    released.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list .list_item", has_text=EXERCISE).first
    fetched.wait_for()
    path = f"dl-course/{EXERCISE}/{EXERCISE}.ipynb"   # path_includes_course: the course's folder in the home
    assert contents_api(page, user, path)["type"] == "notebook"
    contents_api(page, user, path, "PUT", {"type": "notebook", "format": "json", "content": notebook})
    work = page.context.new_page()
    work.set_default_timeout(PAGE_TIMEOUT)
    work.goto(page.url.split("/lab")[0] + f"/lab/tree/{path}")
    work.locator(".jp-Notebook .jp-Cell").first.wait_for()
    work.keyboard.press("Control+s")
    steps.shot(work, f"{user}-works-on-it")
    work.close()
    page.reload()
    open_assignments(page)
    fetched = page.locator("#fetched_assignments_list .list_item", has_text=EXERCISE).first
    fetched.get_by_role("button", name="Submit").click()
    page.locator("#submitted_assignments_list .list_item", has_text=EXERCISE).wait_for()
    steps.shot(page, f"{user}-submitted")
    return page


def student_reads_feedback(page, user, steps):
    page.reload()
    open_assignments(page)
    submitted = page.locator("#submitted_assignments_list .list_item", has_text=EXERCISE).first
    submitted.get_by_role("button", name="Fetch Feedback").click()
    page.get_by_text("(view feedback)").first.wait_for()
    steps.shot(page, f"{user}-feedback-fetched")
    folder = f"dl-course/{EXERCISE}/feedback"
    (stamp,) = [item["name"] for item in contents_api(page, user, folder)["content"]]
    html = f"{folder}/{stamp}/{EXERCISE}.html"
    view = page.context.new_page()
    view.goto(page.url.split("/lab")[0] + f"/files/{html}")
    text = view.locator("body").inner_text()
    steps.shot(view, f"{user}-reads-feedback")
    view.close()
    return text


def score_of(row):
    numbers = re.findall(r"[\d.]+", row.locator("td.score").inner_text())
    return float(numbers[0]), float(numbers[1])


# ----------------------------------------------------------------------------- the term, in one run

def test_a_class_lives_through_release_submit_grade_and_feedback_on_a_real_hub(hub):
    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    solved = student_form(source, release)
    wrong = student_form(apply_wrong_solution(source, load_wrong_solutions(EXERCISE)[0]), release)
    steps = Steps()
    with chromium() as browser:
        try:
            _live_through_the_term(browser, hub, steps, solved, wrong)
            _check_isolation_on_disk(hub)
            _grade_as_the_grader(hub)
            _change_the_roster(browser, hub, steps)
        except Exception:   # what every page showed when it failed, beside the steps
            for context in browser.contexts:
                for page in context.pages:
                    steps.shot(page, "failed-here")
            raise


def _live_through_the_term(browser, hub, steps, solved, wrong):
    formgrader = hub["url"] + "services/dl-course/formgrader"
    instructor = log_in(browser, hub, INSTRUCTOR, steps)
    instructor.goto(formgrader + "/manage_assignments")
    row = instructor.locator("#main-table tr", has_text=EXERCISE)
    row.locator("td.assign a").wait_for()
    assert instructor.locator("#warning-exchange").count() == 0
    steps.shot(instructor, "formgrader-first-page")
    formgrader_action(instructor, row, "assign", steps, "generated")
    row.locator("td.release a").wait_for()
    formgrader_action(instructor, row, "release", steps, "released")

    students = {SOLVER: student_works_and_submits(browser, hub, SOLVER, solved, steps),
                WRONG: student_works_and_submits(browser, hub, WRONG, wrong, steps)}

    forged = _hostile_students_act(hub)

    instructor.goto(formgrader + "/manage_assignments")
    row = instructor.locator("#main-table tr", has_text=EXERCISE)
    row.locator("td.collect a").wait_for()
    formgrader_action(instructor, row, "collect", steps, "collected")
    _check_what_was_collected(hub, forged)
    instructor.goto(formgrader + f"/manage_submissions/{EXERCISE}")
    for student in students:
        submission = instructor.locator("#main-table tr", has_text=student)
        submission.locator("td.autograde a").wait_for()
        formgrader_action(instructor, submission, "autograde", steps, f"autograded-{student}")
    instructor.reload()
    instructor.locator("#main-table tr", has_text=WRONG).locator("td.score").wait_for()
    scores = {student: score_of(instructor.locator("#main-table tr", has_text=student)) for student in students}
    steps.shot(instructor, "scores")
    assert scores[SOLVER] == (15.0, 15.0), scores
    assert scores[WRONG][0] < 15.0 and scores[WRONG][1] == 15.0, scores
    instructor.goto(formgrader + "/manage_assignments")
    row = instructor.locator("#main-table tr", has_text=EXERCISE)
    row.locator("td.generate-feedback a").wait_for()
    formgrader_action(instructor, row, "generate-feedback", steps, "feedback-generated")
    formgrader_action(instructor, row, "release-feedback", steps, "feedback-released")

    feedback = {student: student_reads_feedback(page, student, steps) for student, page in students.items()}
    assert "15" in feedback[SOLVER] and EXERCISE in feedback[SOLVER]
    assert EXERCISE in feedback[WRONG]
    # what ben linked to never reached his feedback: no gradebook, no hidden test (the instructor's notebook), no
    # token, no /etc/shadow (his wrong solution is the reference with mistakes: its own lines are his)
    hidden = grading.secret_lines(nbformat.read(grading.notebook_path(EXERCISE), as_version=4), hidden_only=True)
    for text in (feedback[WRONG], (hub["course_root"] / "feedback" / WRONG / EXERCISE / f"{EXERCISE}.html").read_text()):
        assert "SQLite format" not in text and "JUPYTERHUB_API_TOKEN" not in text
        assert not re.search(r"root:[^:\s]*:\d+:", text), "/etc/shadow is in ben's feedback"
        assert hidden and not [line for line in hidden if line in text], "a hidden test line is in ben's feedback"

    # ben, a student: no Formgrader, no other student's server
    ben = students[WRONG]
    refused = ben.goto(formgrader + "/manage_assignments")
    steps.shot(ben, "student-refused-the-formgrader")
    assert refused.status == 403, (refused.status, ben.content()[:500])
    other = ben.goto(hub["url"] + f"user/{SOLVER}/lab")
    steps.shot(ben, "student-refused-another-server")
    assert other.status == 403, (other.status, ben.url)



def _hostile_students_act(hub):
    """What hostile students do in a shell as their own accounts, once everyone has submitted: try to take the
    course's exchange folder over, reach ana's submission, hand in under ana's name (ben), put links to the
    gradebook, the instructor's notebook, the service's environment and /etc/shadow into a submission (ben) and
    hand in 150 MB (cat). Returns the notebook ben handed in under ana's name."""
    exchange, course = hub["exchange"], hub["exchange"] / "dl-course"
    inbound = course / "inbound"
    assert as_user(WRONG, "mv", str(course), str(exchange / "taken")).returncode != 0, "a student renamed the course"
    assert as_user(WRONG, "mkdir", str(exchange / "another-course")).returncode != 0, "a student made a course folder"
    (ana,) = [p for p in inbound.iterdir() if p.name.startswith(f"{SOLVER}+")]   # root sees its name; ben cannot list
    assert as_user(WRONG, "mv", str(ana), str(inbound / f"{WRONG}+taken")).returncode != 0, "ben renamed ana's folder"
    assert as_user(WRONG, "touch", str(ana / "planted.py")).returncode != 0, "ben wrote into ana's folder"
    assert as_user(WRONG, "cat", str(ana / f"{EXERCISE}.ipynb")).returncode != 0, "ben read ana's submission"

    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    impostor = inbound / f"{SOLVER}+{EXERCISE}+{later}+forged"
    own_work = f"/home/{WRONG}/dl-course/{EXERCISE}/{EXERCISE}.ipynb"
    for command in (["mkdir", str(impostor)], ["cp", own_work, str(impostor)]):
        assert as_user(WRONG, *command).returncode == 0, command
    (ben,) = [p for p in inbound.iterdir() if p.name.startswith(f"{WRONG}+")]
    for name, target in {"gradebook.db": hub["course_root"] / "gradebook.db", "environ": "/proc/self/environ",
                         "solution.ipynb": hub["course_root"] / "source" / EXERCISE / f"{EXERCISE}.ipynb",
                         "shadow": "/etc/shadow"}.items():
        assert as_user(WRONG, "ln", "-s", str(target), str(ben / name)).returncode == 0, name

    cat = inbound / f"{OVERSIZED}+{EXERCISE}+{later}+big"
    assert as_user(OVERSIZED, "mkdir", str(cat)).returncode == 0
    notebook = nbformat.writes(nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4))
    assert as_user(OVERSIZED, "sh", "-c", f"cat > '{cat}/{EXERCISE}.ipynb'", input=notebook).returncode == 0
    assert as_user(OVERSIZED, "truncate", "-s", "150M", str(cat / "weights.bin")).returncode == 0
    return (impostor / f"{EXERCISE}.ipynb").read_bytes()


def _check_what_was_collected(hub, forged):
    """The Formgrader's Collect took ana's own work, ben's without his links, and none of cat's; the intake
    report says so."""
    from course.grading.records import COLLECT_NOTES

    submitted = hub["course_root"] / "submitted"
    assert (submitted / SOLVER / EXERCISE / f"{EXERCISE}.ipynb").read_bytes() != forged, "ben's work was taken as ana's"
    ben = submitted / WRONG / EXERCISE
    assert sorted(p.name for p in ben.iterdir()) == sorted([f"{EXERCISE}.ipynb", "timestamp.txt",
                                                           "submission_secret.txt", COLLECT_NOTES])
    assert not (submitted / OVERSIZED).exists()
    with open(hub["course_root"] / "reports" / EXERCISE / "intake.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows[SOLVER]["status"] == "collected" and f"submitted by {WRONG} under {SOLVER}'s name" in rows[SOLVER]["detail"]
    assert rows[WRONG]["status"] == "collected" and "flagged for review" in rows[WRONG]["detail"]
    assert all(f"{name} (a symbolic link" in rows[WRONG]["detail"] for name in ("gradebook.db", "environ", "shadow"))
    assert rows[OVERSIZED]["status"] == "rejected" and "larger than" in rows[OVERSIZED]["detail"]


def _change_the_roster(browser, hub, steps):
    """`dl-course hub roster` adds dan and drops ben: ben can no longer log in, his server is stopped, his home
    and grade are kept; dan gets an account and a place in the gradebook."""
    from nbgrader.api import Gradebook

    roster = hub["folder"] / "roster-2.csv"
    roster.write_text(f"id,first_name,last_name\n{SOLVER},Ana,Alves\n{OVERSIZED},Cat,Cole\n{NEWCOMER},Dan,Dunn\n")
    os.chmod(roster, 0o644)
    change = subprocess.run([hub["python"], "-m", "course.cli", "hub", "roster", str(roster), "--dir",
                             str(hub["state_dir"])], capture_output=True, text=True, timeout=300)
    assert change.returncode == 0, change.stdout + change.stderr
    assert f"added 1: {NEWCOMER}; removed 1: {WRONG}" in change.stdout, change.stdout
    hub["uids"][NEWCOMER] = pwd.getpwnam(NEWCOMER).pw_uid
    page = browser.new_context().new_page()
    page.goto(hub["url"] + "hub/login")
    page.fill("#username_input", WRONG)
    page.fill("#password_input", hub["passwords"][WRONG])
    page.click("#login_submit")
    page.wait_for_load_state()
    steps.shot(page, "removed-student-refused")
    assert "/user/" not in page.url and "Invalid username or password" in page.content(), page.url
    left = subprocess.run(["pgrep", "-u", WRONG], capture_output=True, text=True).stdout.split()
    assert left == [], "ben's server outlived his removal"
    assert Path(f"/home/{WRONG}/dl-course/{EXERCISE}/{EXERCISE}.ipynb").is_file(), "ben's files were not kept"
    with Gradebook(f"sqlite:///{hub['course_root'] / 'gradebook.db'}", "dl-course") as gb:
        assert gb.find_submission(EXERCISE, WRONG).score < 15, "ben's grade was not kept"
        assert gb.find_student(NEWCOMER).first_name == "Dan"
    settings = hub["state_dir"] / "hub.json"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600 and NEWCOMER in json.loads(settings.read_text())["students"]
    for name in ("hub.json", "roster-token", "hub-state.json"):
        assert as_user(SOLVER, "cat", str(hub["state_dir"] / name)).returncode != 0, name


def _check_isolation_on_disk(hub):
    """No other student's files, the grader's course root, the gradebook or others' submissions."""
    for path in (f"/home/{SOLVER}/dl-course/{EXERCISE}/{EXERCISE}.ipynb", str(hub["course_root"] / "gradebook.db")):
        assert as_user(WRONG, "cat", path).returncode != 0, path
    for folder in (f"/home/{SOLVER}", str(hub["course_root"]), str(hub["exchange"] / "dl-course" / "inbound"),
                   str(hub["state_dir"])):
        assert as_user(WRONG, "ls", folder).returncode != 0, folder
    assert as_user(WRONG, "cat", str(hub["state_dir"] / "jupyterhub.sqlite")).returncode != 0   # the hub's tokens
    # the grades were written by the grader account, through the sandbox (which refuses to grade without it)
    graded = hub["course_root"] / "autograde" / SOLVER / EXERCISE / f"{EXERCISE}.ipynb"
    assert graded.stat().st_uid == hub["uids"][GRADER]


def _grade_as_the_grader(hub):
    """`dl-course grade` by the grader account in a terminal grades the same: its workers and their sandboxed
    kernels run unprivileged."""
    home = pwd.getpwnam(GRADER).pw_dir
    grade = as_user(GRADER, "env", f"HOME={home}", hub["python"], "-m", "course.cli", "--course",
                    str(hub["course_root"]), "grade", EXERCISE, "--force", "--quiet")
    assert grade.returncode == 1, grade.stdout + grade.stderr   # 1: something needs a look (ben's flag)
    assert f"{EXERCISE}: graded 2, rejected 0, flagged 1" in grade.stdout, grade.stdout


def test_hub_down_removes_every_account_process_and_folder(hub):
    hub["down"] = down = subprocess.run([hub["python"], "-m", "course.cli", "hub", "down", "--dir",
                                         str(hub["state_dir"])], capture_output=True, text=True, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert [name for name in hub["uids"] if _account(name)] == []
    left = subprocess.run(["ps", "-o", "uid=", "-e"], capture_output=True, text=True).stdout.split()
    assert not set(map(int, left)) & set(hub["uids"].values()), "a process of the class outlived `hub down`"
    for name in hub["uids"]:
        assert not Path("/home", name).exists()
    assert not hub["state_dir"].exists() and not hub["exchange"].exists()


# ----------------------------------------------------------------------------- the parts, without a hub

def _shipped_configuration(tmp_path, students=("s1",), instructors=("ines",), **more):
    from traitlets.config.loader import PyFileConfigLoader

    settings = {"course_id": "dl-course", "port": 8000, "hub_port": 8081, "service_port": 9999, "proxy_api_port": 8001,
                "proxy": "/srv/hub/node_modules/.bin/configurable-http-proxy", "python": sys.executable,
                "state_dir": str(tmp_path), "course_root": "/home/grader-dl-course/dl-course",
                "exchange": "/srv/nbgrader/exchange", "students": list(students), "instructors": list(instructors),
                "data_dir": "", **more}
    (tmp_path / "hub.json").write_text(json.dumps(settings))
    os.environ["DL_COURSE_HUB_SETTINGS"] = str(tmp_path / "hub.json")
    try:
        return PyFileConfigLoader("jupyterhub_config.py", path=str(grading.ROOT / "deploy" / "jupyterhub")).load_config()
    finally:
        del os.environ["DL_COURSE_HUB_SETTINGS"]


def test_the_shipped_hub_configuration_lets_only_the_formgrade_group_reach_the_course_service(tmp_path):
    config = _shipped_configuration(tmp_path)
    (service,) = config.JupyterHub.services
    assert (service["name"], service["user"], service["cwd"]) == ("dl-course", GRADER, "/home/grader-dl-course/dl-course")
    roles = {role["name"]: role for role in config.JupyterHub.load_roles}
    access = "access:services!service=dl-course"
    assert access in roles["formgrade-dl-course"]["scopes"]
    assert not any(scope.startswith("access:") for scope in roles["nbgrader-dl-course"]["scopes"])
    assert config.JupyterHub.load_groups["nbgrader-dl-course"]["users"] == ["s1"]
    assert set(config.JupyterHub.load_groups["formgrade-dl-course"]["users"]) == {"ines", GRADER}
    assert config.Authenticator.admin_users == set()
    assert config.Authenticator.allow_existing_users is False, "a student dropped from hub.json could log in again"
    assert [s["name"] for s in config.JupyterHub.services] == ["dl-course"], "a roster service without its token"


def test_the_hub_lets_in_the_class_of_hub_json_as_it_is_at_each_log_in(tmp_path):
    """A student `hub roster` adds logs in without a restart; one it removes cannot, though the hub's
    configuration at its start named them."""
    from course.hub_login import ClassPAMAuthenticator

    config = _shipped_configuration(tmp_path, students=("s1",))
    assert config.JupyterHub.authenticator_class == "course.hub_login.ClassPAMAuthenticator"
    authenticator = ClassPAMAuthenticator(hub_settings=str(tmp_path / "hub.json"))
    assert authenticator.check_allowed("s1") and authenticator.check_allowed("ines")
    assert not authenticator.check_allowed("s2") and not authenticator.check_allowed("root")
    settings = json.loads((tmp_path / "hub.json").read_text())
    (tmp_path / "hub.json").write_text(json.dumps({**settings, "students": ["s2"]}))
    assert authenticator.check_allowed("s2") and not authenticator.check_allowed("s1")


def test_an_lti_hub_takes_the_lms_values_from_the_courses_configuration_and_https_cookies_for_launches(tmp_path):
    from course.coursedir import write_overrides
    from traitlets.config import Config

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(grading.ROOT / "nbgrader_config.py", course)
    write_overrides(course, Config({"Lti13Tool": {
        "issuer": "https://canvas.instructure.com", "client_id": "10000000000123", "deployment_ids": ["7:abc"],
        "context_id": "c-42", "authorize_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "jwks_url": "https://sso.canvaslms.com/api/lti/security/jwks"}}))
    config = _shipped_configuration(tmp_path, login="lti", course_root=str(course),
                                    public_url="https://hub.example.edu/")
    assert config.JupyterHub.authenticator_class == "course.hub_login.CourseLti13Authenticator"
    assert (config.LTI13Authenticator.issuer, config.LTI13Authenticator.client_id) == (
        "https://canvas.instructure.com", {"10000000000123"})
    assert config.LTI13Authenticator.jwks_endpoint == "https://sso.canvaslms.com/api/lti/security/jwks"
    assert config.CourseLti13Authenticator.deployment_ids == {"7:abc"}
    assert config.CourseLti13Authenticator.context_id == "c-42"
    assert config.CourseLti13Authenticator.course_root == str(course)
    assert config.JupyterHub.public_url == "https://hub.example.edu/"
    assert config.JupyterHub.tornado_settings["cookie_options"] == {"SameSite": "None", "Secure": True}
    assert config.LTI13Authenticator.uri_scheme == "https"


def test_the_roster_service_may_manage_users_and_the_class_groups_only_and_its_token_stays_root_s(tmp_path):
    from course.hub import write_private

    token = tmp_path / "roster-token"
    write_private(token, "t0ken")
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    settings = tmp_path / "with-token"
    settings.mkdir()
    config = _shipped_configuration(settings, roster_token_file=str(token))
    services = {s["name"]: s for s in config.JupyterHub.services}
    assert services["dl-course-roster"] == {"name": "dl-course-roster", "api_token": "t0ken"}
    roles = {role["name"]: role for role in config.JupyterHub.load_roles}
    assert roles["dl-course-roster"]["services"] == ["dl-course-roster"]
    assert set(roles["dl-course-roster"]["scopes"]) == {"admin:users", "admin:servers", "list:users",
                                                        "groups!group=nbgrader-dl-course",
                                                        "groups!group=formgrade-dl-course"}


def test_no_hub_token_or_other_variable_of_the_service_reaches_a_grading_kernel():
    from course.grading.sandbox import Sandbox

    passed = Sandbox().pass_env
    assert not [name for name in passed if name.startswith(("JUPYTERHUB", "JPY_")) or "TOKEN" in name]


def test_students_servers_get_no_formgrader_and_instructors_servers_the_courses_tab(tmp_path):
    config = _shipped_configuration(tmp_path)

    class Group:
        def __init__(self, name):
            self.name = name

    class FakeSpawner:   # what the hook reads of JupyterHub's spawner: the user's groups, the environment
        def __init__(self, group):
            self.user, self.environment = type("User", (), {"groups": [Group(group)]})(), {}

    paths = {}
    for group in ("nbgrader-dl-course", "formgrade-dl-course"):
        spawner = FakeSpawner(group)
        config.Spawner.pre_spawn_hook(spawner)
        assert spawner.environment["DL_COURSE_EXCHANGE"] == "/srv/nbgrader/exchange"
        paths[group] = [Path(p) for p in spawner.environment["JUPYTER_CONFIG_PATH"].split(os.pathsep)]
    disabled = {group: json.loads((folders[0] / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
                for group, folders in paths.items()}
    servers = {group: json.loads((folders[0] / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
               for group, folders in paths.items()}
    assert disabled["nbgrader-dl-course"]["@jupyter/nbgrader:formgrader"] is True
    assert servers["nbgrader-dl-course"]["nbgrader.server_extensions.formgrader"] is False
    assert "@jupyter/nbgrader:course-list" not in disabled["formgrade-dl-course"]
    assert all(folders[1].name == "common" for folders in paths.values())


def test_a_course_whose_nbgrader_config_json_names_an_exchange_uses_it_and_makes_none_in_the_root(tmp_path):
    from course.coursedir import load_config

    course = grading.make_course_copy([EXERCISE], target=tmp_path / "course")
    shared = tmp_path / "shared-exchange"
    (course / "nbgrader_config.json").write_text(json.dumps({"Exchange": {"root": str(shared), "path_includes_course": True}}))
    config = load_config(course)
    assert config.Exchange.root == str(shared) and config.Exchange.path_includes_course is True
    assert shared.is_dir() and not (course / "exchange").exists()


def test_hub_up_says_it_needs_root_and_which_ids_cannot_be_accounts(tmp_path, monkeypatch):
    from course import hub

    with pytest.raises(hub.HubError, match="bad id, Ana"):
        hub.check_account_names(["ana", "bad id", "Ana", "grader-dl-course"])
    with pytest.raises(hub.HubError, match="no hub was started"):
        hub.HubState.load(tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(hub.HubError, match="run it as root"):
        hub.up(grading.ROOT, tmp_path / "roster.csv", state_dir=tmp_path / "hub")


def test_the_sandbox_binds_each_site_packages_folder_on_the_path_but_never_the_course_root(tmp_path, monkeypatch):
    from course.grading.sandbox import Sandbox

    extra = tmp_path / "other-environment" / "site-packages"
    extra.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(extra), str(grading.ROOT)])
    paths = Sandbox().python_paths()
    assert str(extra) in paths and str(grading.ROOT) not in paths
