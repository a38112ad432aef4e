"""JupyterHub configuration for a class of the course on one machine (docs/instructors.md, "JupyterHub").

`dl-course hub up` runs JupyterHub with this file, as root, from the hub's folder, after writing the class
into `hub.json` there; an administrator who runs the hub by hand writes that file the same way (its keys are
read below). What it sets up, as nbgrader's own multiple-classes demo does it:

- **the course as a service** `<course_id>` (`dl-course`): `jupyterhub-singleuser` run as the Linux account
  `grader-<course_id>` in its course root (a copy of the course repository: nbgrader_config.py, source/,
  release/, the gradebook). It serves the Formgrader at `/services/<course_id>/formgrader`; its Autograde
  button grades as `dl-course grade` does, every kernel in the bubblewrap sandbox;
- **groups**: `formgrade-<course_id>` (instructors and TAs) may reach the service; `nbgrader-<course_id>`
  (students) may not: the service answers them "403: Forbidden". nbgrader's `JupyterHubAuthPlugin` reads the
  groups to list a student's courses;
- **roles**: each group's scopes; the service may read users and groups and change the course's group (the
  Formgrader adds students to it); a single-user server's token acts for its owner (`inherit`), which the
  Assignments and Courses tabs need to read the owner's groups and the services;
- **one configuration per kind of user**, through `JUPYTER_CONFIG_PATH`: `jupyter/common` (the exchange,
  `path_includes_course`, the auth plugin) and `jupyter/students`, `jupyter/instructors` or `jupyter/grader`
  (which nbgrader extensions each one gets: students no Formgrader, no Create Assignment, no Courses tab).
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821  (provided by JupyterHub)

HERE = Path(__file__).resolve().parent
hub = json.loads(Path(os.environ.get("DL_COURSE_HUB_SETTINGS", "hub.json")).read_text())
COURSE = hub["course_id"]
GRADER = f"grader-{COURSE}"
INSTRUCTORS_GROUP, STUDENTS_GROUP = f"formgrade-{COURSE}", f"nbgrader-{COURSE}"
SINGLEUSER = [hub["python"], "-m", "jupyterhub.singleuser"]   # the course's environment, readable by all
STATE = Path(hub["state_dir"])


def jupyter_config_path(kind):
    """JUPYTER_CONFIG_PATH of one kind of user: its own folder first, then what everyone shares."""
    return os.pathsep.join(str(HERE / "jupyter" / name) for name in (kind, "common"))


def course_environment(kind):
    """What every server of the class and the course service need in their environment."""
    env = {"JUPYTER_CONFIG_PATH": jupyter_config_path(kind), "DL_COURSE_EXCHANGE": hub["exchange"],
           "PATH": os.pathsep.join([str(Path(hub["python"]).parent), "/usr/local/bin", "/usr/bin", "/bin"])}
    if hub.get("data_dir"):
        env["COURSE_DATA_DIR"] = hub["data_dir"]   # the dataset mirror, for machines without internet
    return env


# ------------------------------------------------------------------ the hub, its proxy and its state
c.JupyterHub.ip = hub.get("ip", "127.0.0.1")
c.JupyterHub.port = hub["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub["hub_port"]
c.ConfigurableHTTPProxy.command = [hub["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub['proxy_api_port']}"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True   # stopping the hub stops every server it started
PUBLIC_URL = hub.get("public_url", "")   # the address users reach, behind a TLS proxy (`hub up --public-url`)
if PUBLIC_URL:
    c.JupyterHub.public_url = PUBLIC_URL

# ------------------------------------------------------------------ who may log in (Linux accounts, PAM or LTI)
if hub.get("login") == "lti":
    # From the LMS by LTI 1.3 (course/hub_login.py): the platform's values are the course's c.Lti13Tool
    # settings in the grader's nbgrader_config.py, the one place they are kept (docs/lti.md).
    from course.coursedir import load_config
    from course.grading.lti import Lti13Tool

    TOOL = Lti13Tool(config=load_config(hub["course_root"]))
    c.JupyterHub.authenticator_class = "course.hub_login.CourseLti13Authenticator"
    c.LTI13Authenticator.issuer = TOOL.issuer
    c.LTI13Authenticator.client_id = {TOOL.client_id}
    c.LTI13Authenticator.authorize_url = TOOL.authorize_url
    c.LTI13Authenticator.jwks_endpoint = TOOL.jwks_url
    if PUBLIC_URL.startswith("https://"):
        # The launch is the LMS page's cross-site POST: the log-in's state and nonce cookies go with it only
        # when they are SameSite=None (and so Secure).
        c.LTI13Authenticator.uri_scheme = "https"
        c.JupyterHub.tornado_settings = {"cookie_options": {"SameSite": "None", "Secure": True}}
    c.CourseLti13Authenticator.deployment_ids = set(TOOL.deployment_ids)
    c.CourseLti13Authenticator.context_id = TOOL.context_id
    c.CourseLti13Authenticator.course_root = hub["course_root"]
else:
    c.JupyterHub.authenticator_class = "course.hub_login.ClassPAMAuthenticator"
# The grader is a hub user too, in the formgrade group (as in nbgrader's demo): the Formgrader's exchange calls
# ask the hub for its courses. It has no password, so it cannot log in.
c.Authenticator.allowed_users = set(hub["students"]) | set(hub["instructors"]) | {GRADER}
# Only who is in hub.json now, read again at every log-in (course/hub_login.py): a student `dl-course hub roster`
# adds can log in at once, and one it removes cannot log in again because the hub's database still knows them
# (JupyterHub's default with allowed_users set is to let them in).
c.Authenticator.allow_existing_users = False
c.ClassAuthenticator.hub_settings = os.environ.get("DL_COURSE_HUB_SETTINGS", "hub.json")
c.Authenticator.admin_users = set(hub.get("admins", []))
c.JupyterHub.load_groups = {
    INSTRUCTORS_GROUP: {"users": sorted([*hub["instructors"], GRADER])},
    STUDENTS_GROUP: {"users": sorted(hub["students"])},
}

# ------------------------------------------------------------------ the course service: the Formgrader
c.JupyterHub.services = [{
    "name": COURSE,
    "url": f"http://127.0.0.1:{hub['service_port']}",
    "command": SINGLEUSER,
    "user": GRADER,
    "cwd": hub["course_root"],
    "environment": course_environment("grader"),
    "oauth_no_confirm": True,
}]
# `dl-course hub roster` changes the class through the hub's API with a token of its own, which only root can read
# (the hub's folder, 0600); a hub run by hand without that file has no such service.
ROSTER = f"{COURSE}-roster"
if hub.get("roster_token_file") and Path(hub["roster_token_file"]).is_file():
    c.JupyterHub.services.append({"name": ROSTER, "api_token": Path(hub["roster_token_file"]).read_text().strip()})

c.JupyterHub.load_roles = [
    {"name": INSTRUCTORS_GROUP, "description": "Instructors and TAs: open and use the course's Formgrader",
     "groups": [INSTRUCTORS_GROUP],
     "scopes": [f"access:services!service={COURSE}", "list:services", f"read:services!service={COURSE}"]},
    {"name": STUDENTS_GROUP, "description": "Students: the course in the Assignments tab, no Formgrader",
     "groups": [STUDENTS_GROUP], "scopes": ["list:services", f"read:services!service={COURSE}"]},
    {"name": GRADER, "description": "The course service: read the class, keep the students' group",
     "services": [COURSE],
     "scopes": ["list:users", "read:users", "read:users:groups", "list:groups", "read:groups",
                f"groups!group={STUDENTS_GROUP}"]},
    {"name": "server", "description": "A server acts for its owner (nbgrader reads the owner's groups)",
     "scopes": ["inherit"]},
]
if any(service["name"] == ROSTER for service in c.JupyterHub.services):
    c.JupyterHub.load_roles.append(
        {"name": ROSTER, "description": "dl-course hub roster: add and remove the class's students",
         "services": [ROSTER],
         "scopes": ["admin:users", "admin:servers", "list:users", f"groups!group={STUDENTS_GROUP}",
                    f"groups!group={INSTRUCTORS_GROUP}"]})   # the LMS's instructors and TAs (lti roster --hub-dir)

# ------------------------------------------------------------------ the users' servers
c.Spawner.cmd = SINGLEUSER
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def kind_of_user(spawner):
    """Which configuration a user's server gets: instructors' when in the formgrade group, else students'."""
    groups = {group.name for group in spawner.user.groups}
    return "instructors" if INSTRUCTORS_GROUP in groups else "students"


def pre_spawn_hook(spawner):
    spawner.environment.update(course_environment(kind_of_user(spawner)))


c.Spawner.pre_spawn_hook = pre_spawn_hook
