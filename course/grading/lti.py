"""Stage *return* by LTI 1.3 Advantage: the class list from the LMS, and scores into its gradebook.

`dl-course lti keys` makes the tool's key pair (the private key readable by its owner only, the public one as
a JWKS that the hub serves at `/hub/lti13/jwks` and that an LMS may also take pasted); `dl-course lti roster`
reads the course's members by Names and Role Provisioning Services (NRPS, every page), and `dl-course lti
scores EXERCISE` posts one score per student by Assignment and Grade Services (AGS). Both get their access
token by the client-credentials grant with a JWT signed by the tool's key, through `pylti1p3` (its maintained
fork `pylti1p3next`, which keeps a next-page URL as the LMS wrote it): no JWT or JWKS code here.

Who is who (`lti/users.csv` in the course root, written by `lti roster`, read by `lti scores` and by the hub's
log-in, course.hub_login): one row per LMS member, its LTI user id (`sub`), the course's id for it and its kind
(learner or instructor). A member is matched to a student of the gradebook the way `dl-course collect` matches
an LMS's names (course.grading.intake.Roster: id, lms_user_id, e-mail, the e-mail's local part, names); one
the gradebook does not know gets an id by `c.Lti13Tool.student_id_from` (default: the e-mail's local part,
lower-cased, as a Linux account name). An id once given is kept for that LTI user id.

Scores follow the grade files' rules (course.grading.lms): graded and rejected (0, the reason as comment) are
posted, flagged ones held back until cleared, missing ones left alone unless `c.LmsExport.missing_as_zero`,
excused ones not posted; `c.LmsExport.points` scales them and `c.LmsExport.titles` names the line item. The
line item is found by its resource id (the exercise's name) or created once. A score equal to the LMS's
result for that student (the results service: score and comment) is not posted again.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Enum, List, Unicode
from traitlets.config import Configurable

from course import hub   # a class hub: its users are Linux accounts (hub.ACCOUNT_NAME), its class hub.json

KEY_DIR = "lti"
PRIVATE_KEY, PUBLIC_JWKS, USERS = "private-key.pem", "jwks.json", "users.csv"
USER_COLUMNS = ["user_id", "student", "kind", "status", "name", "email"]
INSTRUCTOR_ROLES = ("Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator")   # not Mentor: observers
SCOPES = {"members": "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
          "lineitem": "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
          "results": "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
          "score": "https://purl.imsglobal.org/spec/lti-ags/scope/score"}
SAME_SCORE = 0.005   # an LMS keeps two decimals (Canvas rounds the score it shows)


class Lti13Tool(Configurable):
    """The course as an LTI 1.3 tool of one LMS course: the values the LMS shows when the tool is registered
    (docs/lti.md says where each LMS shows each of them)."""

    issuer = Unicode("", help="the platform's issuer (iss), e.g. https://canvas.instructure.com").tag(config=True)
    client_id = Unicode("", help="the tool's client id in the LMS").tag(config=True)
    deployment_ids = List(Unicode(), help="the deployment ids a launch may come from; a launch from another "
                                          "is refused").tag(config=True)
    context_id = Unicode("", help="the LMS course (context) id a launch must come from; empty: any course of "
                                  "the deployment").tag(config=True)
    authorize_url = Unicode("", help="the platform's OIDC authentication endpoint").tag(config=True)
    jwks_url = Unicode("", help="the platform's public key set (JWKS) URL").tag(config=True)
    token_url = Unicode("", help="the platform's access token endpoint (client credentials)").tag(config=True)
    token_audience = Unicode("", help="the `aud` of the token request's JWT when the platform wants another than "
                                      "the token URL (Moodle, Canvas and Blackboard take the URL)").tag(config=True)
    memberships_url = Unicode("", help="the course's NRPS context memberships URL").tag(config=True)
    lineitems_url = Unicode("", help="the course's AGS line items URL").tag(config=True)
    student_id_from = Enum(["email_local", "email", "lis_person_sourcedid", "user_id"], "email_local",
                           help="the member's field that gives a new student's id").tag(config=True)

    def require(self, *names):
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            raise ValueError(f"c.Lti13Tool.{missing[0]} is not set in nbgrader_config.py"
                             + (f" (nor {', '.join('c.Lti13Tool.' + m for m in missing[1:])})" if missing[1:] else "")
                             + ": docs/lti.md says where the LMS shows it")


# --------------------------------------------------------------------------- the tool's key pair

def key_paths(root):
    folder = Path(root, KEY_DIR)
    return folder / PRIVATE_KEY, folder / PUBLIC_JWKS


def make_keys(root, replace=False):
    """The tool's RSA key pair: the private key (0600) and the public JWKS; returns (private path, JWKS)."""
    from jwcrypto.jwk import JWK
    from pylti1p3.registration import Registration

    private, public = key_paths(root)
    if private.exists() and not replace:
        return private, json.loads(public.read_text())
    private.parent.mkdir(mode=0o700, exist_ok=True)
    key = JWK.generate(kty="RSA", size=2048)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with open(fd, "wb") as handle:
        handle.write(key.export_to_pem(private_key=True, password=None))
    os.chmod(private, 0o600)
    jwks = {"keys": Registration().set_tool_public_key(key.export_to_pem().decode()).get_jwks()}
    public.write_text(json.dumps(jwks, indent=2) + "\n")
    return private, jwks


def read_jwks(root):
    """The tool's public JWKS, or a ValueError saying how to make it."""
    public = key_paths(root)[1]
    if not public.is_file():
        raise ValueError(f"{public} is missing: make the tool's key pair with `dl-course lti keys`")
    return json.loads(public.read_text())


# --------------------------------------------------------------------------- the services

def connect(settings, root, *urls):
    """pylti1p3's service connector for the tool, with its key and the platform's token endpoint; its access
    tokens live as long as this run (never written anywhere)."""
    from pylti1p3.registration import Registration
    from pylti1p3.service_connector import ServiceConnector

    class RunTokens(ServiceConnector):
        tokens = {}

        def _get_cached_access_token(self, scope_key):
            token, until = self.tokens.get(scope_key, (None, 0.0))
            return token if time.monotonic() < until else None

        def _cache_access_token(self, scope_key, access_token, expires_in):
            self.tokens[scope_key] = (access_token, time.monotonic() + max(0.0, float(expires_in) - 30))

    settings.require("issuer", "client_id", "token_url", *urls)
    private = key_paths(root)[0]
    if not private.is_file():
        raise ValueError(f"{private} is missing: make the tool's key pair with `dl-course lti keys`, and give "
                         f"the LMS its public key set")
    pem = private.read_text()
    from jwcrypto.jwk import JWK
    public = JWK.from_pem(pem.encode()).export_to_pem().decode()
    registration = (Registration().set_issuer(settings.issuer).set_client_id(settings.client_id)
                    .set_auth_token_url(settings.token_url).set_tool_private_key(pem).set_tool_public_key(public))
    if settings.token_audience:
        registration.set_auth_audience(settings.token_audience)
    connector = RunTokens(registration)
    connector.tokens = {}
    return connector


def _service_error(error):
    """An LMS's refusal as one line (status and the start of its answer)."""
    response = getattr(error, "response", None)
    if response is not None:
        return f"{response.status_code} {response.reason}: {response.text[:300]}"
    return str(error)


def read_members(settings, root):
    """Every member of the LMS course (NRPS, all pages)."""
    from pylti1p3.exception import LtiServiceException
    from pylti1p3.names_roles import NamesRolesProvisioningService

    service = NamesRolesProvisioningService(connect(settings, root, "memberships_url"),
                                            {"context_memberships_url": settings.memberships_url})
    try:
        return service.get_members()
    except LtiServiceException as error:
        raise ValueError(f"the LMS refused the class list ({settings.memberships_url}): "
                         f"{_service_error(error)}") from None


# --------------------------------------------------------------------------- who is who

def kind_of(roles):
    """'instructor', 'learner' or '' from LTI roles: the context (membership) roles and their short names only,
    never an institution or system role (a TA may be an institution's Instructor and this course's Learner)."""
    names = {role.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for role in roles or []
             if "/membership" in role or "/" not in role}
    if names & set(INSTRUCTOR_ROLES):
        return "instructor"
    return "learner" if "Learner" in names else ""


def read_users(root):
    """{LTI user id: row of lti/users.csv}."""
    path = Path(root, KEY_DIR, USERS)
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["user_id"]: row for row in csv.DictReader(handle)}


def write_users(root, users):
    path = Path(root, KEY_DIR, USERS)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, USER_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(users.values(), key=lambda row: (row["kind"], row["student"])))


def new_id(member, source):
    """A new student's id from the member's field `source` ('' when the member has none usable)."""
    email = (member.get("email") or "").strip()
    value = {"email_local": email.split("@")[0].lower() if email else "", "email": email.lower(),
             "lis_person_sourcedid": member.get("lis_person_sourcedid") or "",
             "user_id": member.get("user_id") or ""}[source]
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", value).strip("_")


def account_name(text):
    """`text` as a Linux account name: lower-case letters, digits, _ and -, a letter first, at most 32."""
    name = re.sub(r"[^a-z0-9_-]+", "_", text.lower()).strip("_-")
    return ("u" + name if name[:1].isdigit() else name)[:32]


@dataclass
class RosterSync:
    """What `lti roster` found and did."""
    added: list = field(default_factory=list)
    left: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    instructors: list = field(default_factory=list)
    unusable: list = field(default_factory=list)   # [(name in the LMS, why)]
    learners: list = field(default_factory=list)   # the active learners' gradebook rows (for a hub's roster)

    def lines(self):
        return ([f"  no usable id: {name}: {why}" for name, why in self.unusable]
                + [f"added {len(self.added)}: {', '.join(self.added) or '-'}",
                   f"left {len(self.left)}: {', '.join(self.left) or '-'} (not active in the LMS course any more; "
                   f"their submissions and grades are kept)",
                   f"unchanged {len(self.kept)}; instructors and TAs {len(self.instructors)}: "
                   f"{', '.join(self.instructors) or '-'}; no usable id {len(self.unusable)}"])


def sync_roster(settings, root, gradebook, members, account_names=False, reserved=()):
    """Match `members` (NRPS) to the gradebook's students, add the new ones, write lti/users.csv; RosterSync.

    account_names: every id must be a Linux account name (a hub's class); a member whose id is not is
    reported as having no usable id, and so is a learner whose id is one of `reserved` (a hub's instructors and
    its grader account)."""
    from .intake import Roster

    known = read_users(root)
    students = [{"id": s.id, "first_name": s.first_name, "last_name": s.last_name, "email": s.email,
                 "lms_user_id": s.lms_user_id} for s in gradebook.students]
    roster, ids = (Roster(students) if students else None), {s["id"] for s in students}
    sync, users = RosterSync(), {}
    owners = {row["student"]: user_id for user_id, row in known.items()}   # an id belongs to one LMS user
    for member in members:
        user_id, name = member.get("user_id", ""), member.get("name") or member.get("email") or member.get("user_id")
        kind, active = kind_of(member.get("roles")), (member.get("status") or "Active") == "Active"
        if not user_id or not kind:
            continue   # no LTI id, or neither learner nor teacher (an observer, a guest)
        email = member.get("email") or ""
        student = (known.get(user_id, {}).get("student")
                   or (roster.find([member.get("lis_person_sourcedid") or "", email, email.split("@")[0],
                                    (member.get("family_name") or "") + (member.get("given_name") or "")])
                       if roster else None))
        if not student:   # new: on a hub, as a Linux account name (jane.doe -> jane_doe)
            student = new_id(member, settings.student_id_from)
            student = account_name(student) if account_names and student else student
        why = ""
        if not student:
            why = f"the LMS gives no {settings.student_id_from.replace('_', ' ')} (c.Lti13Tool.student_id_from)"
        elif account_names and not hub.ACCOUNT_NAME.match(student):
            why = f"{student!r} cannot be a Linux account name on the hub (lower-case letters, digits, _ and -)"
        elif kind == "learner" and student in reserved:
            why = f"{student!r} is the account of the hub's grader or of one of its instructors"
        elif owners.get(student, user_id) != user_id:
            why = f"{student!r} is already the id of another LMS user ({owners[student]})"
        if why:
            sync.unusable.append((name, why))
            continue
        owners[student] = user_id
        users[user_id] = {"user_id": user_id, "student": student, "kind": kind,
                          "status": "active" if active else "inactive", "name": member.get("name") or "",
                          "email": email}
        if kind == "instructor":
            if active:
                sync.instructors.append(student)
            continue
        if not active:
            continue
        row = {"id": student, "first_name": member.get("given_name") or None,
               "last_name": member.get("family_name") or None, "email": email or None}
        (sync.kept if student in ids else sync.added).append(student)
        gradebook.update_or_create_student(student, **{k: v for k, v in row.items() if k != "id" and v})
        sync.learners.append(row)
    active_learners = {row["student"] for row in users.values() if row["kind"] == "learner" and row["status"] == "active"}
    sync.left = sorted({row["student"] for row in known.values() if row["kind"] == "learner"
                        and row.get("status") == "active"} - active_learners)
    for user_id, row in known.items():   # who left stays known (inactive), so that their id is never reused
        if user_id not in users:
            users[user_id] = {**row, "status": "inactive"}
    write_users(root, users)
    return sync


# --------------------------------------------------------------------------- scores

@dataclass
class ScoreOutcome:
    """What `lti scores` posted, left unchanged and held back."""
    lineitem: str = ""
    posted: list = field(default_factory=list)      # [(student, value)]
    unchanged: list = field(default_factory=list)   # [student]
    held_back: list = field(default_factory=list)   # [(student, why)]

    def lines(self):
        return ([f"  not posted: {student}: {why}" for student, why in self.held_back]
                + [f"LTI: {len(self.posted)} posted, {len(self.unchanged)} unchanged, {len(self.held_back)} not "
                   f"posted -> {self.lineitem}"])


def _iso(when):
    if when.tzinfo is None:   # nbgrader keeps UTC times without a zone
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.isoformat(timespec="milliseconds")


def post_scores(settings, root, gradebook, coursedir, exercise, config):
    """Post `exercise`'s scores to the LMS's line item for it (module docstring); returns ScoreOutcome."""
    from pylti1p3.assignments_grades import AssignmentsGradesService
    from pylti1p3.exception import LtiException, LtiServiceException
    from pylti1p3.grade import Grade
    from pylti1p3.lineitem import LineItem

    from .grades import grade_rows
    from .lms import LmsExport, comment, decide, points

    if exercise not in {a.name for a in gradebook.assignments}:
        raise ValueError(f"{exercise}: not in the gradebook (generate and grade it first)")
    lms_settings = LmsExport(config=config)
    service = AssignmentsGradesService(connect(settings, root, "lineitems_url"),
                                       {"scope": [SCOPES["lineitem"], SCOPES["results"], SCOPES["score"]],
                                        "lineitems": settings.lineitems_url})
    rows = list(grade_rows(gradebook, coursedir, [exercise]))
    maximum = points(lms_settings, exercise, rows[0].max_score if rows else 0)
    wanted = (LineItem().set_label(lms_settings.titles.get(exercise, exercise)).set_score_maximum(maximum)
              .set_resource_id(exercise).set_tag("dl-course"))
    try:
        lineitem = service.find_or_create_lineitem(wanted, find_by="resource_id")
        results = {result.get("userId"): result for result in service.get_grades(lineitem)}
    except (LtiException, LtiServiceException) as error:
        raise ValueError(f"the LMS refused the line item of {exercise} ({settings.lineitems_url}): "
                         f"{_service_error(error)}") from None
    outcome = ScoreOutcome(lineitem=lineitem.get_id() or "")
    user_ids = {row["student"]: user_id for user_id, row in read_users(root).items() if row["kind"] == "learner"}
    when = _iso(dt.datetime.now(dt.timezone.utc))
    for row in sorted(rows, key=lambda r: r.student):
        value, why = decide(row, lms_settings, "lti")
        if value is None:
            outcome.held_back.append((row.student, why))
            continue
        user_id = user_ids.get(row.student)
        if not user_id:
            outcome.held_back.append((row.student, "no LTI user id: not in the class list from the LMS (run "
                                                   "`dl-course lti roster`)"))
            continue
        text = comment(row)
        result = results.get(user_id)
        if (result and result.get("resultScore") is not None and abs(float(result["resultScore"]) - value) < SAME_SCORE
                and (result.get("comment") or "") == text):
            outcome.unchanged.append(row.student)
            continue
        grade = (Grade().set_user_id(user_id).set_score_given(value).set_score_maximum(maximum).set_comment(text)
                 .set_timestamp(when).set_activity_progress("Completed" if row.timestamp else "Initialized")
                 .set_grading_progress("FullyGraded"))
        if row.timestamp:
            grade.set_submitted_at(_iso(row.timestamp))
        try:
            service.put_grade(grade, lineitem)
        except LtiServiceException as error:
            outcome.held_back.append((row.student, f"the LMS refused the score: {_service_error(error)}"))
            continue
        outcome.posted.append((row.student, value))
    return outcome


# --------------------------------------------------------------------------- the commands

def _course(course_root):
    from nbgrader.coursedir import CourseDirectory

    from course.coursedir import load_config

    root = Path(course_root).resolve()
    config = load_config(root)
    return root, config, CourseDirectory(config=config), Lti13Tool(config=config)


def roster_from_lms(course_root=".", hub_dir=None, log=print):
    """`dl-course lti roster`: the LMS course's members into the gradebook (and a hub's class); RosterSync."""
    from nbgrader.api import Gradebook

    if hub_dir is not None:   # the hub's class: the grader's copy of the course
        the_hub = json.loads(Path(hub_dir, hub.SETTINGS_FILE).read_text())
        course_root, reserved = the_hub["course_root"], {*the_hub["instructors"], f"grader-{the_hub['course_id']}"}
    root, config, coursedir, settings = _course(course_root)
    members = read_members(settings, root)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        sync = sync_roster(settings, root, gradebook, members, account_names=hub_dir is not None,
                           reserved=reserved if hub_dir is not None else ())
    if hub_dir is not None and not sync.learners:
        raise ValueError(f"the LMS's class list ({settings.memberships_url}) has no active learner that has a usable "
                         f"id: the hub's class is left as it is")
    if hub_dir is not None:
        path = Path(root, KEY_DIR, "hub-roster.csv")
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["id", "first_name", "last_name", "email"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(sync.learners)
        owner = root.stat()
        for written in (path.parent, path, path.parent / USERS):   # the grader's files, as the rest of its course
            os.chown(written, owner.st_uid, owner.st_gid)
        log(hub.roster(path, state_dir=hub_dir, log=log, lms_staff=sync.instructors).summary())
    return sync


def scores_to_lms(exercise, course_root="."):
    """`dl-course lti scores`: post `exercise`'s scores to the LMS; ScoreOutcome."""
    from nbgrader.api import Gradebook

    root, config, coursedir, settings = _course(course_root)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        return post_scores(settings, root, gradebook, coursedir, exercise, config)
