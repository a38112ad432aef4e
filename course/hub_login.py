"""Who may log in to a class hub (deploy/jupyterhub/jupyterhub_config.py): the class of `hub.json`, by PAM or
by LTI 1.3 from the LMS (`dl-course hub up --lti`).

Both authenticators let in exactly the students and instructors `hub.json` names when the user logs in (the
hub re-reads it), so a student that `dl-course hub roster` or `dl-course lti roster --hub-dir` adds to the
running class can log in at once, and one it removes cannot, whatever the hub's database still holds.

For LTI, `jupyterhub-ltiauthenticator` does the protocol: the OIDC login initiation, the redirect to the
platform's authentication endpoint with a state and a nonce kept in the browser's cookies, and the launch's
checks (its signature by the platform's key set, issuer, audience, expiry, the nonce, the state). The course's
class adds what a class needs:

- a launch from a deployment or a course the class is not is refused (403, saying which);
- the LMS's user (`sub`) becomes the course's id of that user from `lti/users.csv` in the course root, which
  `dl-course lti roster` writes from the LMS's class list (course.grading.lti); a user the class list does not
  have, or has as no longer active, is refused with what to do;
- a launch whose roles make an LMS learner an instructor (or the other way round) is refused until the roster
  is read again, and a learner logs in only as one of the hub's students, an instructor only as one of its
  instructors (never as the grader's account): which group a user is in (formgrade or students) comes from the
  class, so the LMS's roles and the hub's groups never disagree;
- the tool's public key set (`lti/jwks.json`, made by `dl-course lti keys`) is served at `/hub/lti13/jwks`,
  the URL to give the LMS for the tool's keys.
"""

from __future__ import annotations

import json
from pathlib import Path

from jupyterhub.auth import Authenticator, PAMAuthenticator
from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from ltiauthenticator.lti13.auth import LTI13Authenticator
from traitlets import Set, Unicode
from tornado import web

from course.grading.lti import key_paths, kind_of, read_users

DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"


class ToolKeySetHandler(BaseHandler):
    """The tool's public JWKS, for the LMS to check what the tool signs (token requests)."""

    def get(self):
        path = key_paths(self.authenticator.course_root)[1]
        if not path.is_file():
            raise web.HTTPError(404, "the tool has no key pair yet: run `dl-course lti keys`")
        self.set_header("Content-Type", "application/json")
        self.write(path.read_bytes())


class ClassAuthenticator(Authenticator):
    """Let in the class of `hub.json` as it is now (module docstring)."""

    hub_settings = Unicode(help="the hub's hub.json (the class: students, instructors)").tag(config=True)

    def the_class(self):
        """(students, instructors, the grader's account) of hub.json now."""
        hub = json.loads(Path(self.hub_settings).read_text())
        return set(hub["students"]), set(hub["instructors"]), f"grader-{hub['course_id']}"

    def check_allowed(self, username, authentication=None):
        students, instructors, grader = self.the_class()
        return username in students | instructors | {grader}


class ClassPAMAuthenticator(ClassAuthenticator, PAMAuthenticator):
    """PAM log-in to the Linux accounts of the class."""


class CourseLti13Authenticator(ClassAuthenticator, LTI13Authenticator):
    """LTI 1.3 log-in for one class (module docstring)."""

    login_service = "your course in the LMS"
    deployment_ids = Set(Unicode(), help="the deployment ids a launch may come from").tag(config=True)
    context_id = Unicode("", help="the LMS course a launch must come from (empty: any)").tag(config=True)
    course_root = Unicode(help="the grader's course root (its lti/users.csv and lti/jwks.json)").tag(config=True)

    def get_handlers(self, app):
        return super().get_handlers(app) + [(url_path_join("lti13", "jwks"), ToolKeySetHandler)]

    async def authenticate(self, handler, data=None):
        token = data or {}
        deployment = token.get(DEPLOYMENT_CLAIM)
        if deployment not in self.deployment_ids:
            raise web.HTTPError(403, f"this hub's class takes no launch from deployment {deployment!r} of "
                                     f"{token.get('iss')}: the instructor adds it to c.Lti13Tool.deployment_ids")
        context = (token.get(CONTEXT_CLAIM) or {}).get("id")
        if self.context_id and context != self.context_id:
            raise web.HTTPError(403, f"this hub's class belongs to another LMS course (the launch came from course "
                                     f"{context!r}): open the course's link from its own LMS course")
        user = read_users(self.course_root).get(token.get("sub", ""))
        if user is None:
            raise web.HTTPError(403, f"{token.get('name') or token.get('sub')!r} is not in this class's list from "
                                     f"the LMS yet: the instructor runs `dl-course lti roster`")
        if user["status"] != "active":
            raise web.HTTPError(403, f"{user['student']} is no longer active in the LMS course")
        launched_as = kind_of(token.get(ROLES_CLAIM))
        if launched_as and launched_as != user["kind"]:
            raise web.HTTPError(403, f"the LMS launched {user['student']} as {launched_as} but the class has them as "
                                     f"{user['kind']}: the instructor runs `dl-course lti roster` again")
        students, instructors, _ = self.the_class()   # never the grader: it is no LMS user's kind
        if user["student"] not in (students if user["kind"] == "learner" else instructors):
            raise web.HTTPError(403, f"{user['student']} is not among this hub's "
                                     f"{'students' if user['kind'] == 'learner' else 'instructors'}: the instructor "
                                     f"runs `dl-course lti roster --hub-dir` (instructors: `hub up --instructors`)")
        return {"name": user["student"]}
