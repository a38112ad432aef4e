"""An LTI 1.3 platform for the tests, on loopback: the `lti1p3platform` package (not this project's code) does
the protocol: the OIDC login initiation, the signed launch, its key set, the client-credentials token (checking
the tool's signed JWT against the tool's key set) and the services' access checks. This file adds only what an
LMS keeps: users, a course's members, line items and scores in memory, behind a FastAPI app served by uvicorn.

Like Moodle, its service URLs carry a query string (`?type_id=7`), so the tool must put `/scores` and
`/results` before it. Like every LMS, it pages the class list (`limit`) with a `Link: <...>; rel="next"` header
and refuses a score whose timestamp is older than the last one it took, or has no time zone, or is for a user not
enrolled (`not_enrolled`).

`tamper` makes the next launches wrong in one way, for the refusal tests: "signature" (signed by another key
under the platform's key id), "audience" (for another client id), "deployment" (an unknown deployment id),
"context" (another course).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
import urllib.parse

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from lti1p3platform.exceptions import LineItemNotFoundException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request as LtiRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService
from lti1p3platform.membership import Context

from browser import free_port

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
TYPE_ID = "type_id=7"


def key_pair():
    """(private PEM, public PEM) of a new RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def _int_params(params):
    return {k: int(v) if k in ("page", "limit") else v for k, v in params.items()}


class _Request(LtiRequest):
    """lti1p3platform's request from what FastAPI read."""

    def build_metadata(self, request):
        return request


class Platform:
    """One LMS with one course (module docstring). `url` is its address once `serve()` runs."""

    def __init__(self, issuer=None, client_id="dl-course-tool", deployment_id="deploy-1", context_id="course-1",
                 page_size=2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = issuer or self.url
        self.client_id, self.deployment_id, self.context_id = client_id, deployment_id, context_id
        self.private_key, self.public_key = key_pair()
        self.tool_keys = None            # the tool's JWKS (dict), or None: fetched from tool_keys_url
        self.tool_keys_url = ""
        self.tool_login_url = self.tool_launch_url = ""
        self.users = {}                  # login hint -> {sub, roles, name, given_name, family_name, email}
        self.members = []                # NRPS members (dicts as NRPS writes them)
        self.page_size = page_size
        self.lineitems = {}              # id (URL) -> line item
        self.scores = {}                 # (line item id, user id) -> the last score taken
        self.posts = []                  # every score posted, in order
        self.member_pages = 0            # how many pages of the class list were read
        self.not_enrolled = set()        # user ids whose scores the LMS refuses (as Canvas: not a student here)
        self.tamper = None
        self.app = self._make_app()

    # ------------------------------------------------------------------ lti1p3platform's configuration
    def config(self):
        platform = self

        class Conf(LTI1P3PlatformConfAbstract):
            def init_platform_config(self, **kwargs):
                registration = (Registration().set_iss(platform.issuer).set_client_id(platform.client_id)
                                .set_deployment_id(platform.deployment_id)
                                .set_launch_url(platform.tool_launch_url)
                                .set_oidc_login_url(platform.tool_login_url)
                                .set_platform_public_key(platform.public_key)
                                .set_platform_private_key(platform.private_key))
                if platform.tool_keys is not None:
                    registration.set_tool_key_set(platform.tool_keys)
                else:
                    registration.set_tool_key_set_url(platform.tool_keys_url)
                self._registration = registration

            def get_registration_by_params(self, **kwargs):
                return self._registration

        return Conf()

    def lineitems_url(self):
        return f"{self.url}/courses/{self.context_id}/lineitems?{TYPE_ID}"

    def memberships_url(self):
        return f"{self.url}/courses/{self.context_id}/memberships"

    def token_url(self):
        return f"{self.url}/token"

    def authorize_url(self):
        return f"{self.url}/authorize"

    def jwks_url(self):
        return f"{self.url}/jwks"

    def launch_start_url(self, login_hint):
        return f"{self.url}/launch?user={urllib.parse.quote(login_hint)}"

    # ------------------------------------------------------------------ the app
    def _make_app(self):
        app, platform = FastAPI(), self

        @app.get("/jwks")
        def jwks():
            return {"keys": [Registration.get_jwk(platform.public_key)]}

        @app.post("/token")
        async def token(request: Request):
            form = dict(await request.form())
            try:
                return platform.config().get_access_token(form)
            except Exception as error:   # noqa: BLE001 - the tool sees why, as an LMS answers
                return JSONResponse({"error": "invalid_grant", "error_description": str(error)}, status_code=400)

        @app.get("/launch")
        def launch(user: str):
            """The LMS's link: the OIDC login initiation, to the tool's login URL."""
            conf = platform.config()

            class Login(OIDCLoginAbstract):
                def set_lti_message_hint(self, **kwargs):
                    self._lti_message_hint = kwargs["hint"]

                def get_redirect(self, url):
                    return RedirectResponse(url, status_code=302)

            login = Login(None, conf)
            login.set_lti_message_hint(hint=f"link-{platform.context_id}")
            return login.initiate_login(user)

        @app.get("/authorize")
        def authorize(request: Request):
            """The OIDC authentication endpoint: a signed launch, posted by the browser to the tool."""
            params = dict(request.query_params)
            user = platform.users.get(params.get("login_hint", ""))
            if user is None:
                return Response("unknown user", status_code=403)

            class Launch(LTIAdvantageMessageLaunchAbstract):
                def get_preflight_response(self):
                    return params

                def render_launch_form(self, launch_data, **kwargs):
                    return launch_data

            message = Launch(_Request({"get_data": params}), platform.config())
            message.set_user_data(user["sub"], user["roles"], full_name=user["name"], email_address=user["email"])
            message.set_launch_context_claim(platform.context_id, context_title="Deep learning",
                                             context_label="DL")
            message.set_resource_link_claim(f"link-{platform.context_id}", title="Exercises")
            message.set_ags(platform.lineitems_url())
            message.set_nrps(platform.memberships_url())
            data = message.lti_launch()
            id_token = platform._tampered(data["id_token"])
            return HTMLResponse(
                f'<form method="POST" action="{data["launch_url"]}" id="launch">'
                f'<input type="hidden" name="id_token" value="{id_token}"/>'
                f'<input type="hidden" name="state" value="{data["state"]}"/></form>'
                f'<script>document.getElementById("launch").submit()</script>')

        @app.get("/courses/{context}/memberships")
        async def memberships(context: str, request: Request):
            return platform._respond(platform._nrps(request, await _metadata(request)).handle_get_members())

        @app.api_route("/courses/{context}/lineitems", methods=["GET", "POST"])
        async def lineitems(context: str, request: Request):
            service = platform._ags(request, await _metadata(request))
            if request.method == "POST":
                return platform._respond(service.handle_create_lineitem())
            return platform._respond(service.handle_get_lineitems(), body_key="content")

        @app.get("/courses/{context}/lineitems/{number}")
        async def lineitem(context: str, number: str, request: Request):
            service = platform._ags(request, await _metadata(request))
            return platform._respond(service.handle_get_lineitem(platform._lineitem_id(number)))

        @app.post("/courses/{context}/lineitems/{number}/scores")
        async def scores(context: str, number: str, request: Request):
            service = platform._ags(request, await _metadata(request))
            return platform._respond(service.handle_update_score(platform._lineitem_id(number)))

        @app.get("/courses/{context}/lineitems/{number}/results")
        async def results(context: str, number: str, request: Request):
            service = platform._ags(request, await _metadata(request))
            return platform._respond(service.handle_get_results(platform._lineitem_id(number)), body_key="content")

        return app

    def kid(self):
        return Registration.get_jwk(self.public_key)["kid"]

    def _tampered(self, id_token):
        if not self.tamper:
            return id_token
        claims = jwt.decode(id_token, options={"verify_signature": False})
        key = self.private_key
        if self.tamper == "signature":
            key = key_pair()[0]
        elif self.tamper == "audience":
            claims["aud"] = claims["azp"] = "another-tool"
        elif self.tamper == "deployment":
            claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "deploy-of-another-school"
        elif self.tamper == "context":
            claims["https://purl.imsglobal.org/spec/lti/claim/context"]["id"] = "another-course"
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid()})

    def _lineitem_id(self, number):
        return f"{self.url}/courses/{self.context_id}/lineitems/{number}?{TYPE_ID}"

    def _respond(self, answer, body_key=None):
        """lti1p3platform's Response as HTTP: a page's items as the body, its next page as a Link header."""
        result, headers = answer.result, {}
        if isinstance(result, dict) and result.get("next"):
            headers["Link"] = f'<{result.pop("next")}>; rel="next"'
        if body_key and isinstance(result, dict):
            result = result[body_key]
        if answer.code >= 400 or result is None:
            return JSONResponse({"error": answer.message}, status_code=answer.code, headers=headers)
        return Response(json.dumps(result, default=str), status_code=answer.code, media_type=answer.media_type,
                        headers=headers)

    def _nrps(self, request, metadata):
        platform = self

        class Members(NamesRoleProvisioningService):
            def get_member_data_page(self, page=1, limit=None, role=None, since=None, **kwargs):
                platform.member_pages += 1
                limit = limit or platform.page_size
                start = (page - 1) * limit
                return {"content": [dict(m) for m in platform.members[start:start + limit]],
                        "has_next": start + limit < len(platform.members)}

            def get_context_by_id(self):
                return Context(id=platform.context_id, label="DL", title="Deep learning")

        metadata["get_data"].setdefault("limit", self.page_size)
        return Members(_Request(metadata), self._config_with_registration(), self.memberships_url())

    def _ags(self, request, metadata):
        platform = self

        class Grades(AssignmentsGradesService):
            def find_lineitems(self, page=1, limit=None, line_item_id=None, resource_link_id=None,
                               resource_id=None, tag=None, **kwargs):
                items = [item for item in platform.lineitems.values()
                         if resource_id in (None, item.get("resourceId")) and tag in (None, item.get("tag"))]
                return {"content": items, "has_next": False}

            def find_lineitem(self, line_item_id):
                if line_item_id not in platform.lineitems:
                    raise LineItemNotFoundException()
                return platform.lineitems[line_item_id]

            def create_lineitem(self, creation_data):
                item = {**creation_data, "id": platform._lineitem_id(len(platform.lineitems) + 1)}
                platform.lineitems[item["id"]] = item
                return item

            def update_lineitem(self, update_data):
                platform.lineitems[update_data["id"]].update(update_data)
                return platform.lineitems[update_data["id"]]

            def delete_lineitem(self, line_item_id):
                platform.lineitems.pop(line_item_id)

            def update_score(self, line_item_id, score):
                if line_item_id not in platform.lineitems:
                    raise LineItemNotFoundException()
                stamp = dt.datetime.fromisoformat(score["timestamp"])
                if stamp.tzinfo is None:
                    raise ValueError(f"score timestamp without a time zone: {score['timestamp']}")
                if score["userId"] in platform.not_enrolled:
                    return UpdateScoreStatus.NOTAPPLIED
                last = platform.scores.get((line_item_id, score["userId"]))
                if last and dt.datetime.fromisoformat(last["timestamp"]) > stamp:
                    return UpdateScoreStatus.OLD_TIMESTAMP
                platform.scores[line_item_id, score["userId"]] = score
                platform.posts.append(score)
                return UpdateScoreStatus.SUCCESS

            def get_results(self, line_item_id, page=1, limit=None, user_id=None, **kwargs):
                if line_item_id not in platform.lineitems:
                    raise LineItemNotFoundException()
                maximum = platform.lineitems[line_item_id]["scoreMaximum"]
                results = [{"id": f"{line_item_id}/results/{user}", "scoreOf": line_item_id, "userId": user,
                            "resultScore": score.get("scoreGiven"), "resultMaximum": maximum,
                            "comment": score.get("comment", "")}
                           for (item, user), score in platform.scores.items() if item == line_item_id]
                return {"content": results, "has_next": False}

        return Grades(_Request(metadata), self._config_with_registration(), self.lineitems_url())

    def _config_with_registration(self):
        conf = self.config()
        conf.get_registration()
        return conf

    def gradebook(self, resource_id):
        """{LTI user id: (score, comment)} of the line item with this resource id, as the LMS shows it."""
        items = [item["id"] for item in self.lineitems.values() if item.get("resourceId") == resource_id]
        return {user: (score.get("scoreGiven"), score.get("comment")) for (item, user), score in self.scores.items()
                if item in items}

    @contextlib.contextmanager
    def serve(self):
        """Serve the platform on loopback while the block runs."""
        server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the LTI platform did not start")
            time.sleep(0.05)
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(10)


async def _metadata(request):
    """What lti1p3platform reads of a request."""
    body = await request.body()
    json_body = None
    if body and "json" in request.headers.get("content-type", ""):
        json_body = json.loads(body)
    return {"method": request.method, "form_data": {}, "get_data": _int_params(dict(request.query_params)),
            "headers": dict(request.headers) | {"Authorization": request.headers.get("authorization", "")},
            "content_type": request.headers.get("content-type"), "path": request.url.path, "json": json_body}
