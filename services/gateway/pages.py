"""The web pages: server-rendered (jinja2, autoescaped), Chinese first, English on request.

Pages read through the API's routes (`Page.fetch`): the same table, roles, district and
community rules, so a page shows nothing its viewer could not ask the API for, and is
refused as the API would refuse them. What pages change goes through the API from the
page's own script (`static/qp.js`), with the session cookie and the CSRF header. The
exceptions are forms whose answer is a page: logging in (sets the cookie), a new campaign
(the policy editor shows the refusals beside its fields) and printing token slips (the
tokens exist in clear only in that one answer, never stored here); they too call through
their routes.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.exceptions import UnknownService
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as NoSuchPath
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from qunping.core.errors import InvalidInput, NotFound, QunpingError
from qunping.core.metrics import ROUTE_KEY
from services.ballot.policy import DEFAULT_POLICY
from services.ballot.schemas import CATEGORIES
from services.gateway.api import SESSION_COOKIE, Api, Caller, RpcCall
from services.gateway.auth import ORGANISER, Principal
from services.gateway.catalogue import CATALOGUE, LANGUAGES, ZH, explain
from services.gateway.exports import CONTENT_TYPES, GRADE_WRITERS
from services.gateway.policy_form import editor_rows, field_errors, number, policy_from_form
from services.gateway.qr import qr_svg
from services.gateway.routes import ADMIN, ORGANISERS, READERS, SCRUTINY, STAFF, Route

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
LANG_COOKIE = "qp_lang"
ROLE_HOMES = {"district_admin": "/desk", "organiser": "/desk", "assessor": "/district",
              "auditor": "/audit", "scrutineer": "/desk", "platform_admin": "/"}  # fmt: skip
SECURITY_HEADERS = {
    # Every asset is the gateway's own: no CDN, no inline script.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class Page:
    """One request to a page: its language, who asks, and how to render."""

    def __init__(self, pages: Pages, request: Request, call: RpcCall) -> None:
        self.pages = pages
        self.request = request
        self._call = call
        wanted = request.args.get("lang") or request.cookies.get(LANG_COOKIE) or ZH
        self.lang = wanted if wanted in LANGUAGES else ZH
        self.token = request.cookies.get(SESSION_COOKIE)
        self.principal: Principal | None = (
            pages.api.accounts.principal(self.token) if self.token else None
        )
        self.arguments: dict[str, str] = {}

    def fetch(self, service: str, rpc: str, payload: dict[str, Any]) -> Any:
        """What the API's route calling `service.rpc` answers this page's viewer for
        `payload`, refused (400, 401, 403, 404) exactly as the API would refuse them."""
        api = self.pages.api
        route = api.routes[f"{service}.{rpc}"]
        return api.call_route(route, self.admitted(route), payload, self._call)

    def check(self, service: str, rpc: str, payload: dict[str, Any]) -> None:
        """Refuses as `fetch` would, without the call: a page where the route's act is done
        is for whoever the API would let do it."""
        api = self.pages.api
        route = api.routes[f"{service}.{rpc}"]
        api.authorise(route, self.admitted(route), payload, self._call)

    def admitted(self, route: Route) -> Caller:
        client = self.request.remote_addr or "unknown"
        return self.pages.api.admit(route, self.principal, self.token, client)

    @property
    def over_tls(self) -> bool:
        """Whether the client reached us over https (TLS may end at a proxy in front): then
        every cookie is Secure, never sent over plain http."""
        return self.request.scheme == "https" or self.pages.api.settings.https

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        strings = CATALOGUE[self.lang]
        html = self.pages.env.get_template(template).render(
            t=lambda key: strings.get(key, key),
            explain=lambda message: explain(message, self.lang),
            lang=self.lang,
            other_lang="en" if self.lang == ZH else "zh",
            principal=self.principal,
            path=self.request.path,
            **context,
        )
        response = Response(html, status=status, content_type="text/html; charset=utf-8")
        response.headers.update(SECURITY_HEADERS)
        if self.request.args.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, self.lang, samesite="Strict", max_age=31_536_000, secure=self.over_tls
            )
        return response

    def staff(self, roles: frozenset[str]) -> Principal | None:
        """The logged-in principal if this page is for their role (the roles of a route it
        reads or acts through); whatever it fetches, the route's own rules still judge."""
        if self.principal is None or self.principal.role not in roles:
            return None
        return self.principal

    def to_login(self) -> Response:
        return redirect(f"/login?next={quote(self.request.full_path)}")


Handler = Callable[[Page], Response]


class Pages:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
        )
        handlers: dict[str, tuple[str, Handler]] = {
            "/": ("GET", home),
            "/login": ("GET,POST", login),
            "/logout": ("POST", logout),
            "/vote/<meeting_id>": ("GET", vote),
            "/receipt/<meeting_id>": ("GET", receipt),
            "/board/<meeting_id>": ("GET", board),
            "/notice/<meeting_id>": ("GET", notice),
            "/desk": ("GET", desk),
            "/desk/campaigns/new": ("GET,POST", new_campaign),
            "/desk/campaigns/<campaign_id>": ("GET", campaign_page),
            "/desk/meetings/<meeting_id>": ("GET", meeting_desk),
            "/desk/meetings/<meeting_id>/slips": ("POST", slips),
            "/district": ("GET", district),
            "/district/<campaign_id>/grades.<any(csv, xlsx):format>": ("GET", grades_file),
            "/district/pledge-export.<any(csv, xlsx):format>": ("GET", pledge_export_file),
            "/desk/pledges": ("GET", pledges_desk),
            "/desk/pledges/<pledge_id>": ("GET", pledge_desk),
            "/audit": ("GET", audit),
            "/audit/bundle.zip": ("GET", audit_bundle),
            "/audit/notice/<meeting_id>": ("GET", audit_notice),
            "/docs": ("GET", api_docs),
            "/static/<name>": ("GET", static),
        }
        self.url_map = Map(
            [
                Rule(path, methods=methods.split(","), endpoint=handler)
                for path, (methods, handler) in handlers.items()
            ]
        )

    def handle(self, request: Request, call: RpcCall) -> Response:
        page = Page(self, request, call)
        try:
            rule, arguments = self.url_map.bind_to_environ(request.environ).match(return_rule=True)
            request.environ[ROUTE_KEY] = rule.rule
            handler = rule.endpoint
        except (NoSuchPath, MethodNotAllowed):
            return page.render("error.html", 404, message="404")
        page.arguments = {name: str(value) for name, value in arguments.items()}
        try:
            response: Response = handler(page)
        except NotFound as error:
            return page.render("error.html", 404, message=str(error))
        except QunpingError as error:
            return page.render("error.html", error.status, message=str(error))
        except UnknownService as error:
            # e.g. the audit service, which a deployment may leave out (asked for the
            # district or community of what a page names).
            return page.render("error.html", 503, message=f"{error} is not running")
        return response


def arg(page: Page, name: str) -> str:
    return page.arguments[name]


def home(page: Page) -> Response:
    return page.render("home.html")


def login(page: Page) -> Response:
    next_url = page.request.args.get("next", "")
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = ""
    if page.request.method == "GET":
        return page.render("login.html", next=next_url)
    form = page.request.form
    limiter = page.pages.api.limiters["login"]
    if not limiter.allow(page.request.remote_addr or "unknown"):
        return page.render("login.html", 429, next=next_url, failure="too_many")
    answer = page.pages.api.accounts.login(form.get("username", ""), form.get("password", ""))
    if answer is None:
        return page.render("login.html", 401, next=next_url, failure="login_failed")
    response = redirect(next_url or ROLE_HOMES[answer.principal.role], 303)
    response.set_cookie(
        SESSION_COOKIE,
        answer.token,
        expires=answer.expires_at,
        httponly=True,
        samesite="Strict",
        secure=page.over_tls,
    )
    return response


def logout(page: Page) -> Response:
    token = page.request.cookies.get(SESSION_COOKIE)
    if page.principal and token and page.request.form.get("csrf") == page.principal.csrf:
        page.pages.api.accounts.logout(token)
    response = redirect("/", 303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def vote(page: Page) -> Response:
    """The voter's page: no account, no cookie; the token comes in the URL's fragment,
    which browsers never send, so it reaches no server log."""
    meeting_id = arg(page, "meeting_id")
    meeting = page.fetch("ballot", "meeting_detail", {"meeting_id": meeting_id})
    return page.render("vote.html", meeting=meeting, items=ballot_items(meeting))


def ballot_items(meeting: dict[str, Any]) -> list[dict[str, Any]]:
    """Every subject with its dimensions and the scale's values, as the form shows them."""
    policy = meeting["policy"]
    items = []
    for subject in meeting["subjects"]:
        kind = policy["kinds"][subject["kind"]]
        scale = policy["scales"][kind["scale"]]
        items.append(
            {
                "subject": subject,
                "label": kind["label"],
                "dimensions": kind["dimensions"],
                "values": scale["values"] + scale["abstain"],
            }
        )
    return items


def receipt(page: Page) -> Response:
    meeting_id = arg(page, "meeting_id")
    meeting = page.fetch("ballot", "meeting_status", {"meeting_id": meeting_id})
    return page.render("receipt.html", meeting=meeting)


def results_if_any(page: Page, meeting_id: str) -> dict[str, Any] | None:
    try:
        results: dict[str, Any] = page.fetch("tally", "results", {"meeting_id": meeting_id})
    except NotFound:
        return None
    return results


def board(page: Page) -> Response:
    meeting_id = arg(page, "meeting_id")
    meeting = page.fetch("ballot", "meeting_detail", {"meeting_id": meeting_id})
    results = results_if_any(page, meeting_id) if meeting["phase"] == "closed" else None
    return page.render("board.html", meeting=meeting, results=results)


def notice(page: Page) -> Response:
    meeting_id = arg(page, "meeting_id")
    meeting = page.fetch("ballot", "meeting_detail", {"meeting_id": meeting_id})
    results = results_if_any(page, meeting_id)
    if results is None:
        raise NotFound(f"results of meeting {meeting_id}")
    return page.render("notice.html", meeting=meeting, results=results)


def desk(page: Page) -> Response:
    """The campaigns, each leading to its own page; district admins start new ones here."""
    principal = page.staff(SCRUTINY)
    if principal is None:
        return page.to_login()
    campaigns = page.fetch("ballot", "list_campaigns", {})["campaigns"]
    meetings = {
        campaign["campaign_id"]: meetings_of(page, principal, campaign["campaign_id"])
        for campaign in campaigns
    }
    return page.render("desk.html", campaigns=campaigns, meetings=meetings)


def meetings_of(page: Page, principal: Principal, campaign_id: str) -> list[dict[str, Any]]:
    """A campaign's meetings that this account may run (an organiser: their community's)."""
    meetings: list[dict[str, Any]] = page.fetch(
        "ballot", "list_meetings", {"campaign_id": campaign_id}
    )["meetings"]
    return [meeting for meeting in meetings if principal.may_act_for(meeting["community"])]


def campaign_page(page: Page) -> Response:
    """One campaign: its meetings with phase and turnout, scheduling one with subjects
    picked by the policy's labels, superior assessments, grades, and the policy in words."""
    principal = page.staff(SCRUTINY)
    if principal is None:
        return page.to_login()
    campaign_id = arg(page, "campaign_id")
    campaign = page.fetch("ballot", "get_campaign", {"campaign_id": campaign_id})
    meetings = meetings_of(page, principal, campaign_id)
    grades = page.fetch("tally", "grades", {"campaign_id": campaign_id})["grades"]
    return page.render(
        "campaign.html",
        campaign=campaign,
        meetings=meetings,
        communities=sorted({meeting["community"] for meeting in meetings}),
        grades=[grade for grade in grades if principal.may_act_for(grade["community"])],
    )


def new_campaign(page: Page) -> Response:
    """The policy editor: a new campaign with its scoring policy. The ballot service judges
    the policy, as it does over the API; its messages are shown beside their fields."""
    principal = page.staff(ADMIN)
    if principal is None:
        return page.to_login()
    form = page.request.form
    if page.request.method == "GET":
        return editor(page, DEFAULT_POLICY, {}, {})
    if form.get("csrf") != principal.csrf:
        return page.render("error.html", 403, message="403")
    policy = policy_from_form(form)
    command = {
        "district": form.get("district", "").strip(),
        "year": number(form.get("year", "")),
        "batch": form.get("batch", "").strip(),
        "policy": policy,
    }
    try:
        created = page.fetch("ballot", "create_campaign", command)
    except InvalidInput as refused:
        messages = dict(refused.messages)
        errors = field_errors(messages.pop("policy", {}), policy)
        errors.update(field_errors(messages, policy))
        return editor(page, policy, form, errors, status=400)
    return redirect(f"/desk/campaigns/{created['campaign_id']}", 303)


def editor(
    page: Page,
    policy: dict[str, Any],
    form: Any,
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    return page.render(
        "campaign_new.html",
        status,
        policy=policy,
        rows=editor_rows(policy),
        form=form,
        errors=errors,
    )


def meeting_desk(page: Page) -> Response:
    """A meeting's staff acts: for whoever the API lets ask to open its voting (its
    district's admin and scrutineers, an organiser of its community)."""
    if page.staff(SCRUTINY) is None:
        return page.to_login()
    meeting_id = arg(page, "meeting_id")
    page.check("ballot", "open_voting", {"meeting_id": meeting_id})
    meeting = page.fetch("ballot", "meeting_detail", {"meeting_id": meeting_id})
    return page.render("meeting_desk.html", meeting=meeting, categories=CATEGORIES)


def slips(page: Page) -> Response:
    """Issue tokens and print them: the only time they exist in clear (never stored here)."""
    principal = page.staff(ORGANISERS)
    if principal is None:
        return page.to_login()
    meeting_id = arg(page, "meeting_id")
    if page.request.form.get("csrf") != principal.csrf:
        return page.render("error.html", 403, message="403")
    count = page.request.form.get("count", "")
    payload = {"meeting_id": meeting_id, "count": int(count) if count.isdigit() else count}
    tokens = page.fetch("ballot", "issue_tokens", payload)["tokens"]
    meeting = page.fetch("ballot", "meeting_status", {"meeting_id": meeting_id})
    base = page.pages.api.settings.public_url or page.request.host_url.rstrip("/")
    cards = [
        {"token": token, "qr": qr_svg(f"{base}/vote/{meeting_id}#token={token}")}
        for token in tokens
    ]
    response = page.render("slips.html", meeting=meeting, cards=cards)
    response.headers["Cache-Control"] = "no-store"
    return response


def district(page: Page) -> Response:
    if page.staff(STAFF) is None:
        return page.to_login()
    campaigns = page.fetch("ballot", "list_campaigns", {})["campaigns"]
    campaign_id = page.request.args.get("campaign_id") or (
        campaigns[-1]["campaign_id"] if campaigns else None
    )
    summary = grades = None
    if campaign_id:
        grades = page.fetch("tally", "grades", {"campaign_id": campaign_id})["grades"]
        try:
            summary = page.fetch("tally", "summary", {"campaign_id": campaign_id})
        except NotFound:
            summary = None
    return page.render(
        "district.html",
        campaigns=campaigns,
        campaign_id=campaign_id,
        summary=summary,
        grades=grades,
    )


def grades_file(page: Page) -> Response:
    if page.staff(STAFF) is None:
        return page.to_login()
    campaign_id, file_format = arg(page, "campaign_id"), arg(page, "format")
    grades = page.fetch("tally", "grades", {"campaign_id": campaign_id})["grades"]
    disposition = f'attachment; filename="grades-{campaign_id}.{file_format}"'
    return Response(
        GRADE_WRITERS[file_format](grades),
        content_type=CONTENT_TYPES[file_format],
        headers={"Content-Disposition": disposition},
    )


def pledge_export_file(page: Page) -> Response:
    """年终考核: the pledge service's year-end file, as a download."""
    if page.staff(READERS) is None:
        return page.to_login()
    year = page.request.args.get("year", "")
    exported = page.fetch(
        "pledge",
        "export",
        {
            "district": page.request.args.get("district", ""),
            "year": int(year) if year.isdigit() else year,
            "format": arg(page, "format"),
        },
    )
    return download(
        base64.b64decode(exported["content_base64"]),
        exported["file_name"],
        CONTENT_TYPES[arg(page, "format")],
    )


def download(content: bytes, file_name: str, content_type: str) -> Response:
    return Response(
        content,
        content_type=content_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name)}"},
    )


def pledges_desk(page: Page) -> Response:
    """双诺: register units, draft letters; the organiser sees their own community only."""
    principal = page.staff(ORGANISERS)
    if principal is None:
        return page.to_login()
    where = {"community": principal.community} if principal.role == ORGANISER else {}
    units = page.fetch("pledge", "list_units", where)["units"]
    pledges = page.fetch("pledge", "list_pledges", where)["pledges"]
    overdue = page.fetch("pledge", "overdue_items", where)["items"]
    return page.render("pledges.html", units=units, pledges=pledges, overdue=overdue)


def pledge_desk(page: Page) -> Response:
    """One letter: both sides sign, each reports on its items, the evaluation starts."""
    if page.staff(ORGANISERS) is None:
        return page.to_login()
    pledge = page.fetch("pledge", "pledge_detail", {"pledge_id": arg(page, "pledge_id")})
    return page.render("pledge.html", pledge=pledge, latest=pledge["versions"][-1])


def audit(page: Page) -> Response:
    """The auditor's page: verify and replay run on request (both only read the logs)."""
    if page.staff(READERS) is None:
        return page.to_login()
    run = page.request.args.get("run")
    verified = page.fetch("audit", "verify", {}) if run == "verify" else None
    replayed = None
    if run == "replay":
        meeting_id = page.request.args.get("meeting_id")
        replayed = page.fetch("audit", "replay", {"meeting_id": meeting_id} if meeting_id else {})
    campaigns = page.fetch("ballot", "list_campaigns", {})["campaigns"]
    meetings = [
        {**meeting, "campaign": campaign}
        for campaign in campaigns
        for meeting in page.fetch(
            "ballot", "list_meetings", {"campaign_id": campaign["campaign_id"]}
        )["meetings"]
    ]
    return page.render(
        "audit.html",
        verified=verified,
        replayed=replayed,
        campaigns=campaigns,
        meetings=meetings,
    )


def audit_bundle(page: Page) -> Response:
    """A meeting's or campaign's bundle and its standalone verifier, in one zip."""
    if page.staff(READERS) is None:
        return page.to_login()
    scope = {key: value for key, value in page.request.args.items() if value}
    exported = page.fetch("audit", "export_bundle", scope)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("bundle.jsonl", exported["bundle"])
        bundle.writestr("verify_bundle.py", exported["verifier"])
    name = "-".join(scope.values()) or "bundle"
    return download(archive.getvalue(), f"bundle-{name}.zip", "application/zip")


NOTICE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""The audit service's 公示 carries its own inline style and SVG, and no script at all."""


def audit_notice(page: Page) -> Response:
    if page.staff(READERS) is None:
        return page.to_login()
    html = page.fetch("audit", "notice", {"meeting_id": arg(page, "meeting_id")})["html"]
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers.update({**SECURITY_HEADERS, "Content-Security-Policy": NOTICE_POLICY})
    return response


def api_docs(page: Page) -> Response:
    from services.gateway.openapi import openapi_document

    return page.render("api_docs.html", document=openapi_document())


def static(page: Page) -> Response:
    name = arg(page, "name")
    path = STATIC / name
    if name not in {entry.name for entry in STATIC.iterdir()} or path.suffix not in STATIC_TYPES:
        return page.render("error.html", 404, message="404")
    response = Response(path.read_bytes(), content_type=STATIC_TYPES[path.suffix])
    response.headers["Cache-Control"] = "max-age=3600"
    return response
