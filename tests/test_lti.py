"""Students and instructors arrive from the LMS by LTI 1.3: `dl-course hub up --lti` on this machine (loopback),
the class read from the LMS with `dl-course lti roster --hub-dir`, launches from two platforms this project does
not write.

- an LTI 1.3 platform built on `lti1p3platform` (tests/lti_platform.py): the class list (in pages) makes the
  learners the hub's students and a TA one of its instructors; the learner's launch lands in the hub logged in
  as the course's student, the instructor's and the TA's reach the course's Formgrader; launches with a wrong
  signature, for another audience, from an unknown deployment or course, a replayed one (another user's
  launch posted with one's own state: its nonce is not theirs) and one for a user the class does not have are
  refused, each with what is wrong;
- `lti-provider-mock`, an independently written platform, against a hub with the same authenticator: its
  launch logs the same student in.

The platform fetches the tool's key set from the hub (/hub/lti13/jwks) to check the roster command's token
request. Needs root (every user of the class is a Linux account, also when they log in by LTI) and npm;
skipped, saying why, without them. The scores' path (AGS) is tested against the same platform in tests/test_lms.py.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from accounts import environment_everyone_can_run, missing_for_a_hub
from browser import chromium, free_port
from course import grading
from course.coursedir import write_overrides
from lti_platform import INSTRUCTOR, LEARNER, Platform
from traitlets.config import Config

COURSE_ID = "dl-lti"
TEACHER, TA, ANA, BEN = "dll-ines", "dll-tom", "dll-ana", "dll-ben"   # tom: a TA the hub learns from the LMS
TA_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
GRADER = f"grader-{COURSE_ID}"
CONTEXT, DEPLOYMENT, CLIENT = "course-7", "1", "lti-provider-mock"   # lti-provider-mock's client and deployment


def _missing():
    return missing_for_a_hub((TEACHER, TA, ANA, BEN, GRADER), "the LTI hub test")


def _person(account, first, last, roles):
    return {"user_id": f"u-{account}", "name": f"{first} {last}", "given_name": first, "family_name": last,
            "email": f"{account}@uni.example", "roles": roles, "status": "Active"}


def _course_copy(folder, platform):
    """A course root for the hub: the repository's configuration and deploy/, the LMS's values in c.Lti13Tool."""
    root = folder / "course"
    root.mkdir()
    shutil.copy(grading.ROOT / "nbgrader_config.py", root)
    shutil.copytree(grading.ROOT / "deploy", root / "deploy", ignore=shutil.ignore_patterns("node_modules"))
    write_overrides(root, Config({"CourseDirectory": {"course_id": COURSE_ID}, "Lti13Tool": {
        "issuer": platform.issuer, "client_id": CLIENT, "deployment_ids": [DEPLOYMENT], "context_id": CONTEXT,
        "authorize_url": platform.authorize_url(), "jwks_url": platform.jwks_url(),
        "token_url": platform.token_url(), "memberships_url": platform.memberships_url(),
        "lineitems_url": platform.lineitems_url()}}))
    return root


@pytest.fixture(scope="module")
def lti_hub():
    problem = _missing()
    if problem:
        pytest.skip(problem)
    folder = Path(tempfile.mkdtemp(prefix="dl-lti-test-", dir="/tmp"))
    os.chmod(folder, 0o755)
    platform = Platform(client_id=CLIENT, deployment_id=DEPLOYMENT, context_id=CONTEXT, page_size=2)
    platform.members = [_person(TEACHER, "Ines", "Teacher", [INSTRUCTOR]), _person(ANA, "Ana", "Alves", [LEARNER]),
                        _person(BEN, "Ben", "Brown", [LEARNER]), _person(TA, "Tom", "Tutor", [TA_ROLE, LEARNER])]
    platform.users = {f"login-{m['email'].split('@')[0]}": {"sub": m["user_id"], "roles": m["roles"],
                                                             "name": m["name"], "email": m["email"]}
                      for m in platform.members}
    platform.users["login-stranger"] = {"sub": "u-stranger", "roles": [LEARNER], "name": "Sam Stranger",
                                        "email": "sam@elsewhere.example"}
    root = _course_copy(folder, platform)
    state_dir, port = folder / "hub", free_port()
    url = f"http://127.0.0.1:{port}/"
    platform.tool_login_url, platform.tool_launch_url = f"{url}hub/lti13/oauth_login", f"{url}hub"
    platform.tool_keys_url = f"{url}hub/lti13/jwks"
    info = {"url": url, "state_dir": state_dir, "platform": platform, "folder": folder}
    cli = [sys.executable, "-m", "course.cli", "--course", str(root)]
    try:
        with environment_everyone_can_run(), platform.serve():
            assert subprocess.run([*cli, "lti", "keys"], capture_output=True, text=True).returncode == 0
            up = subprocess.run([*cli, "hub", "up", "--lti", "--instructors", TEACHER, "--port", str(port), "--dir",
                                 str(state_dir), "--exchange", str(folder / "exchange")],
                                capture_output=True, text=True, timeout=600)
            assert up.returncode == 0, up.stdout + up.stderr
            info["roster"] = subprocess.run([*cli, "lti", "roster", "--hub-dir", str(state_dir)],
                                            capture_output=True, text=True, timeout=300)
            info["cli"] = cli
            yield info
    finally:
        if (state_dir / "hub-state.json").exists():
            subprocess.run([sys.executable, "-m", "course.cli", "hub", "down", "--dir", str(state_dir)],
                           capture_output=True, text=True, timeout=300)
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- a browser's steps, by hand

def _form(page):
    """(action, {name: value}) of the first form of an HTML page (what the page's script would submit)."""
    action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page).group(1))
    fields = {html.unescape(name): html.unescape(value) for name, value in
              re.findall(r'<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"', page, flags=re.S)}
    return action, fields


def _launch_form(session, platform, login_hint):
    """Click the LMS's link: the login initiation, the hub's redirect to the platform, the platform's signed
    launch form (not yet posted)."""
    answer = session.get(platform.launch_start_url(login_hint), timeout=60)
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    return _form(answer.text)


def _launch(session, platform, login_hint):
    """A whole launch: the hub's answer to the posted launch (not followed)."""
    action, fields = _launch_form(session, platform, login_hint)
    return session.post(action, data=fields, allow_redirects=False, timeout=60)


def _logged_in_as(session, url):
    """The hub user this browser is logged in as (the hub's home page names them), or None."""
    page = session.get(f"{url}hub/home", allow_redirects=False, timeout=60)
    if page.status_code != 200:
        return None
    found = re.search(r'<span id="login_widget">\s*<span class="me-1">([^<]+)</span>', page.text)
    assert found, f"the hub's home page names no user: {page.text[:500]}"
    return found.group(1).strip()


def _said(answer):
    """The status and the message of a hub's answer (its error page's heading and text)."""
    found = re.search(r"<h1>(.*?)</h1>\s*(?:<p>(.*?)</p>)?", answer.text, re.S)
    text = " ".join(part.strip() for part in found.groups() if part) if found else answer.text[-300:]
    return f"{answer.status_code}: {html.unescape(text)}"


def _session():
    import requests
    return requests.Session()


# ----------------------------------------------------------------------------- the tests

def test_the_roster_comes_from_the_lms_in_pages_and_makes_the_learners_the_hubs_students(lti_hub):
    roster = lti_hub["roster"]
    assert roster.returncode == 0, roster.stdout + roster.stderr
    assert f"added 2: {ANA}, {BEN}" in roster.stdout and f"instructors and TAs 2: {TEACHER}, {TA}" in roster.stdout
    assert f"instructors added 1: {TA}" in roster.stdout, "the TA joins the class's instructors"
    assert lti_hub["platform"].member_pages == 2, "4 members, 2 a page"
    settings = json.loads((lti_hub["state_dir"] / "hub.json").read_text())
    assert sorted(settings["students"]) == [ANA, BEN] and settings["login"] == "lti"
    assert settings["instructors"] == [TEACHER, TA] and settings["lms_instructors"] == [TA]


def test_a_learners_launch_lands_in_the_hub_logged_in_as_the_courses_student(lti_hub):
    session = _session()
    answer = _launch(session, lti_hub["platform"], f"login-{ANA}")
    assert answer.status_code == 302, _said(answer)
    assert _logged_in_as(session, lti_hub["url"]) == ANA


def test_an_instructors_and_a_tas_launch_reach_the_formgrader_and_a_learners_does_not(lti_hub):
    for staff in (TEACHER, TA):
        teacher = _session()
        assert _launch(teacher, lti_hub["platform"], f"login-{staff}").status_code == 302
        page = teacher.get(f"{lti_hub['url']}services/{COURSE_ID}/formgrader", timeout=120)
        assert page.status_code == 200 and "Manage Assignments" in page.text, (staff, page.status_code, page.text[:300])
    learner = _session()
    assert _launch(learner, lti_hub["platform"], f"login-{BEN}").status_code == 302
    assert learner.get(f"{lti_hub['url']}services/{COURSE_ID}/formgrader", timeout=120).status_code == 403


@pytest.mark.parametrize("tamper, status, says", [
    ("signature", 400, "Signature verification failed"),
    ("audience", 401, "Audience doesn't match"),
    ("deployment", 403, "no launch from deployment 'deploy-of-another-school'"),
    ("context", 403, "belongs to another LMS course"),
])
def test_a_forged_or_foreign_launch_is_refused_saying_what_is_wrong(lti_hub, tamper, status, says):
    platform = lti_hub["platform"]
    platform.tamper = tamper
    try:
        session = _session()
        answer = _launch(session, platform, f"login-{ANA}")
    finally:
        platform.tamper = None
    assert answer.status_code == status and says in _said(answer), _said(answer)
    assert _logged_in_as(session, lti_hub["url"]) is None


def test_a_replayed_launch_and_a_user_the_class_does_not_have_are_refused(lti_hub):
    platform = lti_hub["platform"]
    victim = _session()
    _, captured = _launch_form(victim, platform, f"login-{ANA}")   # ana's signed launch, never posted by her
    attacker = _session()
    action, own = _launch_form(attacker, platform, f"login-{BEN}")   # the attacker's own state and nonce cookies
    answer = attacker.post(action, data={"id_token": captured["id_token"], "state": own["state"]},
                           allow_redirects=False, timeout=60)
    assert answer.status_code == 400 and "nonce mismatch" in _said(answer), _said(answer)
    assert _logged_in_as(attacker, lti_hub["url"]) is None
    again = _session()
    used = _launch_form(again, platform, f"login-{BEN}")
    assert again.post(used[0], data=used[1], allow_redirects=False, timeout=60).status_code == 302
    assert again.post(used[0], data=used[1], allow_redirects=False, timeout=60).status_code == 400, "used once"
    stranger = _session()
    answer = _launch(stranger, platform, "login-stranger")
    assert answer.status_code == 403 and "not in this class's list from the LMS" in _said(answer), _said(answer)


def test_lti_provider_mock_launches_the_same_student(lti_hub):
    """An independently written platform (lti-provider-mock), in Chromium, against the course's authenticator on
    a hub of its own (the mock signs with its own key and has its own authentication endpoint)."""
    mock_port, hub_port = free_port(), free_port()
    hub_url = f"http://127.0.0.1:{hub_port}/"
    mock_url = f"http://127.0.0.1:{mock_port}"
    users_root = lti_hub["folder"] / "mock-course"
    (users_root / "lti").mkdir(parents=True)
    shutil.copy(Path("/home", GRADER, COURSE_ID, "lti", "users.csv"), users_root / "lti")   # the class, as read
    env = {"LTI_PROVIDER_MOCK__LTI__ISS": lti_hub["platform"].issuer,
           "LTI_PROVIDER_MOCK__LTI__LOGIN_URL": f"{hub_url}hub/lti13/oauth_login",
           "LTI_PROVIDER_MOCK__LTI__LAUNCH_URL": f"{hub_url}hub/lti13/oauth_callback",
           "LTI_PROVIDER_MOCK__USERS": json.dumps([{"id": f"u-{ANA}", "given_name": "Ana", "family_name": "Alves",
                                                   "email": f"{ANA}@uni.example"}]),
           "LTI_PROVIDER_MOCK__COURSES": json.dumps([{"id": CONTEXT, "name": "Deep learning"}])}
    config = lti_hub["folder"] / "mock_hub_config.py"
    config.write_text(f"""
c = get_config()  # noqa: F821
c.JupyterHub.ip, c.JupyterHub.port, c.JupyterHub.hub_port = "127.0.0.1", {hub_port}, {free_port()}
c.ConfigurableHTTPProxy.command = [{str(lti_hub['state_dir'] / 'node_modules' / '.bin' / 'configurable-http-proxy')!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.JupyterHub.db_url = "sqlite:///{lti_hub['folder'] / 'mock-hub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(lti_hub['folder'] / 'mock-hub-secret')!r}
c.JupyterHub.authenticator_class = "course.hub_login.CourseLti13Authenticator"
c.LTI13Authenticator.issuer = {lti_hub['platform'].issuer!r}
c.LTI13Authenticator.client_id = {{{CLIENT!r}}}
c.LTI13Authenticator.authorize_url = "{mock_url}/authorize"
c.LTI13Authenticator.jwks_endpoint = "{mock_url}/jwks"
c.CourseLti13Authenticator.deployment_ids = {{{DEPLOYMENT!r}}}
c.CourseLti13Authenticator.context_id = {CONTEXT!r}
c.CourseLti13Authenticator.course_root = {str(users_root)!r}
c.ClassAuthenticator.hub_settings = {str(lti_hub["state_dir"] / "hub.json")!r}
""")
    log = open(lti_hub["folder"] / "mock-hub.log", "wb")
    hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=lti_hub["folder"],
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    mock = subprocess.Popen([sys.executable, "-m", "uvicorn", "lti_provider_mock.server:app", "--host", "127.0.0.1",
                             "--port", str(mock_port), "--log-level", "warning"], env={**os.environ, **env},
                            cwd=lti_hub["folder"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        session = _session()
        _wait_for(session, f"{hub_url}hub/login", hub)
        _wait_for(session, f"{mock_url}/login", mock)
        with chromium() as browser:   # the mock keeps its state in cookies only a browser sends back unchanged
            page = browser.new_context().new_page()
            page.goto(f"{mock_url}/login")
            page.select_option("select[name=userid]", f"u-{ANA}")
            page.click("button[type=submit]")
            page.wait_for_load_state()
            with page.expect_response(lambda response: "/hub/lti13/oauth_callback" in response.url
                                      and response.request.method == "POST") as launched:
                page.goto(f"{mock_url}/courses/{CONTEXT}")   # its scripts post the login and the launch
            assert launched.value.status == 302, f"{launched.value.status}: {launched.value.text()[-400:]}"
            page.goto(f"{hub_url}hub/home")
            assert page.locator("#login_widget .me-1").inner_text().strip() == ANA
    finally:
        for process in (hub, mock):
            os.killpg(process.pid, 15)
            process.wait(30)
        log.close()


def _wait_for(session, url, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url}: the server stopped"
        try:
            if session.get(url, timeout=5).status_code < 500:
                return
        except Exception:   # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def test_hub_down_removes_the_lti_class(lti_hub):
    down = subprocess.run([sys.executable, "-m", "course.cli", "hub", "down", "--dir", str(lti_hub["state_dir"])],
                          capture_output=True, text=True, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not Path("/home", GRADER).exists() and not Path("/home", ANA).exists()
