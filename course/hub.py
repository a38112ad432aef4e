"""A class on a JupyterHub on this machine: `dl-course hub up` and `dl-course hub down` (run as root).

`up` makes, and records in the hub's folder (`/srv/dl-course-hub` unless told), everything a class needs:

- a Linux account for every student of the roster and every instructor, with a generated password printed
  once (PAM log-in; each home readable by its owner only). An account that exists already is used as it is;
- the grader account `grader-<course_id>` (no password: the hub starts the course service as it) and its
  course root, `~/<course_id>`: a copy of this course repository's nbgrader_config.py, source/ and release/,
  with the class in the gradebook (names from the roster) and, in nbgrader_config.json, the hub's exchange;
- the exchange (`/srv/nbgrader/exchange` unless told) with the layout students cannot subvert
  (course.grading.exchange: the root root's and 0755, the course's folders the grader's, `inbound` 3733); an
  exchange that exists already is used only when its layout is safe;
- configurable-http-proxy from the npm registry at the version `deploy/jupyterhub/package-lock.json` pins;
- the hub: JupyterHub (this environment's, pinned with the course) with `deploy/jupyterhub/`'s configuration,
  copied into the hub's folder with the class in `hub.json`, started in the background; `up` returns when
  it answers.

`roster` changes the students of the running class: new accounts, hub users and gradebook rows; a student no
longer on the roster is deleted from the hub (their server stops; the hub lets in only who is on the roster) and
the Linux account the class made for them locked, their home, submissions and grades kept. It acts through the hub's REST API with a token of its own (a hub service whose
role may manage users and the students' group), kept with `hub.json` in the hub's folder, readable by root only.

`down` stops the hub (which stops every server and the course service), then removes the accounts, folders
and exchange that `up` and `roster` made, and nothing else. The design, what is isolated from whom and what the kernel
needs for the sandbox: docs/instructors.md, "JupyterHub".
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course.coursedir import OVERRIDES_FILE, load_config, with_tools

DEPLOY = Path("deploy") / "jupyterhub"   # in the course repository
STATE_FILE = "hub-state.json"            # what `up` made, for `down`
SETTINGS_FILE = "hub.json"               # the class, for deploy/jupyterhub/jupyterhub_config.py
ROSTER_TOKEN_FILE = "roster-token"       # the API token of `hub roster` (a hub service of its own)
PRIVATE = 0o600                          # the hub's files with the class's ids, ports and tokens: root's only
DEFAULT_DIR = "/srv/dl-course-hub"
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
ACCOUNT_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")   # what useradd accepts without --badname
COURSE_PARTS = ("nbgrader_config.py", "source", "release", "extensions.csv", "lti")   # lti/: the LTI key pair


class HubError(RuntimeError):
    """What stops `dl-course hub`, said in one sentence."""


@dataclass
class HubState:
    """What `up` made, so that `down` removes exactly that."""
    state_dir: str
    exchange: str
    accounts: list = field(default_factory=list)   # created by `up` (removed by `down`)
    exchange_created: bool = False
    pid: int = 0
    url: str = ""

    def save(self):
        write_private(Path(self.state_dir, STATE_FILE), json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, state_dir):
        path = Path(state_dir, STATE_FILE)
        if not path.is_file():
            raise HubError(f"no hub was started from {state_dir} ({path} is missing)")
        return cls(**json.loads(path.read_text()))


# ----------------------------------------------------------------------------- checks

def write_private(path, text):
    """Write a file of the hub's folder readable by root only (created so: never readable for a moment)."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE)
    with open(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, PRIVATE)


def require_root(verb):
    if os.geteuid() != 0:
        raise HubError(f"`dl-course hub {verb}` creates and removes Linux accounts and runs JupyterHub as root: "
                       f"run it as root (sudo)")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_in_use(port, host="127.0.0.1"):
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def check_account_names(names):
    bad = [name for name in names if not ACCOUNT_NAME.match(name)]
    if bad:
        raise HubError(f"these ids cannot be Linux account names (lower-case letters, digits, _ and -, starting "
                       f"with a letter or _, at most 32): {', '.join(bad)}")


def account_exists(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def environment_problem_for(user, python=None):
    """Why `user` cannot run this Python environment with the course in it (every server of the hub and the
    course service run in it as their own accounts), or None."""
    python = python or sys.executable
    proc = subprocess.run(["runuser", "-u", user, "--", python, "-c", "import jupyterhub, nbgrader, course"],
                          capture_output=True, text=True, cwd="/")
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return (f"the account {user} cannot run {python} with the course ({reason}): every server of the hub runs "
                f"in this environment as its own user, so it must be readable by all (e.g. a virtual environment "
                f"made with the system's python3 under /opt, not one whose interpreter lives in root's home)")
    return None


def sandbox_problem_for(user):
    """Why bubblewrap cannot make a grading sandbox for `user` (the grader is not root), or None."""
    from course.grading.sandbox import bwrap_problem

    problem = bwrap_problem(user=user)
    if problem and shutil.which("bwrap"):
        return (f"{problem} (as {user}). The kernel must allow unprivileged user namespaces "
                f"(user.max_user_namespaces > 0; on Debian and Ubuntu also kernel.unprivileged_userns_clone = 1, "
                f"and on Ubuntu 24.04 or later kernel.apparmor_restrict_unprivileged_userns = 0 or an AppArmor "
                f"profile for bwrap)")
    return problem


# ----------------------------------------------------------------------------- accounts

def create_account(name, password=None, shell="/bin/bash"):
    """A Linux account with a home only its owner can read; the password set when given (else locked)."""
    subprocess.run(["useradd", "--create-home", "--shell", shell, name], check=True, capture_output=True)
    home = Path(pwd.getpwnam(name).pw_dir)
    os.chmod(home, 0o700)
    if password:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
    return home


def remove_account(name):
    # the account's processes first (the hub stopped its servers; a terminal's leftovers), then it and its home
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def new_password():
    return secrets.token_urlsafe(9)


# ----------------------------------------------------------------------------- the course root

def make_grader_course(course_root, grader, exchange, roster_rows, lti=False):
    """The grader's copy of the course, its class in the gradebook and the hub's exchange in its
    nbgrader_config.json (with lti: the course's LTI key pair, made when it has none); everything owned by
    the grader."""
    from nbgrader.api import Gradebook

    from course.grading.engine import create_empty_gradebook

    home = Path(pwd.getpwnam(grader).pw_dir)
    config = load_config(course_root)
    target = home / config.CourseDirectory.course_id
    target.mkdir()
    for part in COURSE_PARTS:
        source = Path(course_root, part)
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        elif source.is_file():
            shutil.copy(source, target / part)
    overrides = Path(course_root, OVERRIDES_FILE)   # the course's own settings there (c.Lti13Tool, c.LmsExport) stay
    settings = json.loads(overrides.read_text()) if overrides.is_file() else {}
    settings["Exchange"] = {**settings.get("Exchange", {}), "root": str(exchange), "path_includes_course": True}
    (target / OVERRIDES_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    graded = load_config(target)
    create_empty_gradebook(graded.CourseDirectory.db_url.removeprefix("sqlite:///"))   # no `alembic` process
    if lti:
        from course.grading.lti import make_keys
        make_keys(target)
    with Gradebook(graded.CourseDirectory.db_url, graded.CourseDirectory.course_id) as gb:
        for row in roster_rows:
            gb.update_or_create_student(row["id"], **{k: v for k, v in row.items() if k != "id" and v})
    entry = pwd.getpwnam(grader)
    for path in [target, *target.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return target


def lti_problem(course_root):
    """A HubError naming the c.Lti13Tool setting an LTI log-in lacks."""
    from course.grading.lti import Lti13Tool

    try:
        Lti13Tool(config=load_config(course_root)).require("issuer", "client_id", "deployment_ids",
                                                           "authorize_url", "jwks_url")
    except ValueError as error:
        raise HubError(f"--lti: {error}") from None


# ----------------------------------------------------------------------------- the exchange

def prepare_exchange(exchange, course_id, grader, state):
    """The exchange with the layout students cannot subvert (course.grading.exchange.make_layout): created when
    missing; an existing one (an administrator's, shared with other courses) only when its layout is safe."""
    from course.grading.exchange import layout_problems, make_layout

    exchange = Path(exchange)
    if exchange.exists():
        problems = layout_problems(exchange, course_id)
        if problems:
            raise HubError(f"the exchange {exchange} is not safe to use: " + " ".join(problems))
    else:
        state.exchange_created = True
        state.save()
    make_layout(exchange, course_id, owner=grader)


# ----------------------------------------------------------------------------- the proxy and the hub

def install_proxy(course_root, state_dir, log):
    """configurable-http-proxy at the pinned version, into the hub's folder (npm ci)."""
    npm = shutil.which("npm")
    if npm is None:
        raise HubError("npm is not installed: JupyterHub's proxy, configurable-http-proxy, comes from the npm "
                       "registry (Debian: apt-get install nodejs npm)")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(Path(course_root, DEPLOY, name), Path(state_dir, name))
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=state_dir,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise HubError(f"npm could not install configurable-http-proxy: {proc.stderr.strip()[-500:]}")
    proxy = Path(state_dir, "node_modules", ".bin", "configurable-http-proxy")
    log(f"proxy: {proxy}")
    return proxy


def wait_until_up(url, process, log_file, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HubError(f"JupyterHub stopped at start-up (exit {process.returncode}); its log: {log_file}\n"
                           + Path(log_file).read_text()[-3000:])
        try:
            with urllib.request.urlopen(url + "hub/api/", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise HubError(f"JupyterHub did not answer at {url} within {timeout} s; its log: {log_file}")


def up(course_root, roster, instructors=(), port=8000, state_dir=DEFAULT_DIR, exchange=DEFAULT_EXCHANGE,
       data_dir=None, ip="127.0.0.1", lti=False, public_url="", log=print):
    """Create the class and start the hub; returns (HubState, {account: password} of the new accounts).

    lti: students log in from the LMS by LTI 1.3 (course.hub_login, with the course's c.Lti13Tool settings)
    instead of PAM; `roster` may then be None (the class comes from `dl-course lti roster --hub-dir`).
    public_url: the address users reach the hub at, behind a TLS proxy (JupyterHub's public_url)."""
    from course.grading.intake import read_roster

    require_root("up")
    course_root, state_dir, exchange = Path(course_root).resolve(), Path(state_dir), Path(exchange)
    if Path(state_dir, STATE_FILE).is_file():
        raise HubError(f"a hub was started from {state_dir} already: change its students with `dl-course hub roster "
                       f"FILE --dir {state_dir}`, or remove it with `dl-course hub down --dir {state_dir}` first")
    if port_in_use(port, ip):
        raise HubError(f"port {port} is taken on {ip}: choose another with --port")
    if not Path(course_root, DEPLOY, "jupyterhub_config.py").is_file():
        raise HubError(f"{course_root} has no {DEPLOY}/jupyterhub_config.py: run `dl-course hub up` in the course "
                       f"repository")
    if lti:
        lti_problem(course_root)
    elif roster is None:
        raise HubError("a hub with PAM log-in needs its students: give --roster (or --lti to log in from the LMS)")
    rows = read_roster(roster) if roster else []
    students = [row["id"] for row in rows]
    instructors = [name for name in instructors if name]
    course_id = load_config(course_root).CourseDirectory.course_id
    grader = f"grader-{course_id}"
    check_account_names([*students, *instructors, grader])
    if set(students) & set(instructors):
        raise HubError(f"on the roster and instructors both: {', '.join(sorted(set(students) & set(instructors)))}")
    if account_exists(grader):
        raise HubError(f"the grader account {grader} exists already: another hub serves this course here "
                       f"(`dl-course hub down`, or `userdel -r {grader}` if it is a leftover)")

    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o711)   # the servers pass through to config/jupyter/ (readable); nobody lists the rest
    state = HubState(str(state_dir), str(exchange))
    state.save()
    passwords = {}
    try:
        create_account(grader)
        state.accounts.append(grader)
        state.save()
        problem = environment_problem_for(grader) or sandbox_problem_for(grader)
        if problem:
            raise HubError(problem)
        for name in [*students, *instructors]:
            if account_exists(name):
                log(f"{name}: the account exists, used as it is (log in with its password)")
                continue
            passwords[name] = new_password()
            create_account(name, passwords[name])
            state.accounts.append(name)
            state.save()
        prepare_exchange(exchange, course_id, grader, state)
        target = make_grader_course(course_root, grader, exchange, rows, lti=lti)
        proxy = install_proxy(course_root, state_dir, log)
        shutil.copytree(Path(course_root, DEPLOY), state_dir / "config", dirs_exist_ok=True)
        settings = {"course_id": course_id, "ip": ip, "port": port, "hub_port": free_port(),
                    "service_port": free_port(), "proxy_api_port": free_port(), "proxy": str(proxy),
                    "python": sys.executable, "state_dir": str(state_dir), "course_root": str(target),
                    "exchange": str(exchange), "students": students, "instructors": instructors,
                    "login": "lti" if lti else "pam", "public_url": public_url or "",
                    "data_dir": data_dir or os.environ.get("COURSE_DATA_DIR") or ""}
        write_private(state_dir / ROSTER_TOKEN_FILE, secrets.token_hex(32))
        settings["roster_token_file"] = str(state_dir / ROSTER_TOKEN_FILE)
        write_private(state_dir / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
        log_file = state_dir / "jupyterhub.log"
        for private in (log_file, state_dir / "jupyterhub.sqlite"):   # the hub's database and log: root's only
            private.touch(mode=0o600)
            os.chmod(private, 0o600)
        env = with_tools({**os.environ, "DL_COURSE_HUB_SETTINGS": str(state_dir / SETTINGS_FILE)})
        with open(log_file, "ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f",
                                        str(state_dir / "config" / "jupyterhub_config.py")],
                                       cwd=state_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        state.pid, state.url = process.pid, f"http://{ip}:{port}/"
        state.save()
        wait_until_up(state.url, process, log_file)
    except BaseException:
        down(state_dir, log=lambda message: None)
        raise
    log(f"JupyterHub: {state.url} (log: {log_file}; stop it and remove the class: dl-course hub down --dir {state_dir})")
    log(f"the course's Formgrader: {state.url}services/{course_id}/formgrader (instructors: {', '.join(instructors) or 'none'})")
    return state, passwords


@dataclass
class RosterChange:
    """What `roster` did."""
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    passwords: dict = field(default_factory=dict)
    instructors_added: list = field(default_factory=list)     # from the LMS (`lti roster --hub-dir`)
    instructors_removed: list = field(default_factory=list)

    def summary(self):
        staff = (f"; instructors added {len(self.instructors_added)}: {', '.join(self.instructors_added) or '-'}, "
                 f"removed {len(self.instructors_removed)}: {', '.join(self.instructors_removed) or '-'}"
                 if self.instructors_added or self.instructors_removed else "")
        return (f"added {len(self.added)}: {', '.join(self.added) or '-'}; removed {len(self.removed)}: "
                f"{', '.join(self.removed) or '-'} (they can no longer log in; their files and grades are kept); "
                f"{len(self.kept)} unchanged{staff}")


def hub_api(url, token, method, path, body=None):
    """One call of the hub's REST API; returns the HTTP status (404 and 409, already done, are answers too)."""
    request = urllib.request.Request(f"{url}hub/api/{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code in (404, 409):
            return error.code
        raise HubError(f"the hub refused {method} {path}: {error.code} {error.read()[:300]!r}") from None


def lock_account(name):
    """No log-in with the account any more (locked password, expired), and none of its processes left."""
    subprocess.run(["usermod", "--lock", "--expiredate", "1", name], check=True, capture_output=True)
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)


def unlock_account(name):
    """Undo `lock_account` (an account without a locked password is left as it is)."""
    subprocess.run(["usermod", "--unlock", "--expiredate", "", name], capture_output=True)


def roster(roster_file, state_dir=DEFAULT_DIR, log=print, lms_staff=None):
    """Make the running class's students those of `roster_file` (the module's docstring); returns RosterChange.

    lms_staff: the LMS course's active instructors and TAs (`dl-course lti roster --hub-dir`): those the class
    does not have join it as instructors (the formgrade group); those it took from the LMS before and the LMS no
    longer lists leave it as a removed student does; the instructors of `hub up --instructors` stay as they are."""
    from nbgrader.api import Gradebook

    from course.grading.intake import read_roster

    require_root("roster")
    state = HubState.load(state_dir)
    settings_path = Path(state_dir, SETTINGS_FILE)
    settings = json.loads(settings_path.read_text())
    rows = read_roster(roster_file)
    students = [row["id"] for row in rows]
    check_account_names(students)
    from_lms = settings.get("lms_instructors", [])
    change = RosterChange(added=[s for s in students if s not in settings["students"]],
                          removed=[s for s in settings["students"] if s not in students],
                          kept=[s for s in students if s in settings["students"]])
    if lms_staff is not None:
        check_account_names(lms_staff)
        change.instructors_added = [name for name in lms_staff if name not in settings["instructors"]]
        change.instructors_removed = [name for name in from_lms if name not in lms_staff]
    instructors = [name for name in settings["instructors"] if name not in change.instructors_removed]
    instructors += change.instructors_added
    both = set(students) & set(instructors)
    if both:
        raise HubError(f"on the roster and instructors both: {', '.join(sorted(both))}")
    token = Path(settings["roster_token_file"]).read_text().strip()
    group = f"nbgrader-{settings['course_id']}"
    joining = [(name, group) for name in change.added]
    joining += [(name, f"formgrade-{settings['course_id']}") for name in change.instructors_added]
    for name, group in joining:
        if account_exists(name):
            if name in state.accounts:
                unlock_account(name)   # a student of this class removed before
            log(f"{name}: the account exists, used as it is (log in with its password)")
        else:
            change.passwords[name] = new_password()
            create_account(name, change.passwords[name])
            state.accounts.append(name)
            state.save()
        hub_api(state.url, token, "POST", f"users/{name}")
        hub_api(state.url, token, "POST", f"groups/{group}/users", {"users": [name]})
    for name in change.removed + change.instructors_removed:
        hub_api(state.url, token, "DELETE", f"users/{name}")   # stops the server, forgets the hub user
        if name in state.accounts:   # an account the class made; one the machine had before keeps its other uses
            lock_account(name)
    config = load_config(settings["course_root"])
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        for row in rows:
            gb.update_or_create_student(row["id"], **{k: v for k, v in row.items() if k != "id" and v})
    grader = pwd.getpwnam(f"grader-{settings['course_id']}")
    database = Path(config.CourseDirectory.db_url.removeprefix("sqlite:///"))
    if database.is_file():
        os.chown(database, grader.pw_uid, grader.pw_gid)
    settings["students"], settings["instructors"] = students, instructors
    settings["lms_instructors"] = [name for name in from_lms if name not in change.instructors_removed]
    settings["lms_instructors"] += change.instructors_added
    write_private(settings_path, json.dumps(settings, indent=2) + "\n")
    return change


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_hub(state):
    """SIGTERM to the hub's process group (the hub stops its servers, the service and the proxy), then
    SIGKILL to whatever of it is left, the proxy included (JupyterHub's jupyterhub-proxy.pid)."""
    if not state.pid:
        return
    _signal_group(state.pid, signal.SIGTERM)   # the group lives on after a hub that died at start-up
    deadline = time.monotonic() + 30
    while _alive(state.pid) and time.monotonic() < deadline:
        try:
            os.waitpid(state.pid, os.WNOHANG)   # our child when `up` failed in this process
        except ChildProcessError:
            pass
        time.sleep(0.2)
    _signal_group(state.pid, signal.SIGKILL)
    proxy_pid = Path(state.state_dir, "jupyterhub-proxy.pid")
    if proxy_pid.is_file():
        try:
            os.kill(int(proxy_pid.read_text().strip()), signal.SIGKILL)
        except (ValueError, ProcessLookupError, PermissionError):
            pass


def down(state_dir=DEFAULT_DIR, log=print):
    """Stop the hub and remove what `up` made (accounts, exchange, the hub's folder)."""
    require_root("down")
    state = HubState.load(state_dir)
    stop_hub(state)
    for name in reversed(state.accounts):
        remove_account(name)
        log(f"removed account {name}")
    if state.exchange_created:
        shutil.rmtree(state.exchange, ignore_errors=True)
        log(f"removed exchange {state.exchange}")
    shutil.rmtree(state.state_dir, ignore_errors=True)
    log(f"removed {state.state_dir}")
