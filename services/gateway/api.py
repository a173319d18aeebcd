"""The JSON API: match a route, authenticate, validate, check scope and limits, call, answer.

Everything here reads the route table (`routes.py`); no endpoint has code of its own. Once
the caller is admitted to a route, `Api.call_route` does the rest for the API and for the
pages alike (`Page.fetch`), so a page is judged by the same route as the API. Every
refusal has its status in one place (`refusal`): bad input 400 with each field's message,
no or expired login 401, wrong role or community 403, no such thing 404, a rule forbids it
now (wrong phase, used token) 409, a body over the limit 413, too many requests 429; a
service failing 502, not there 503, not answering in time 504.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields
from nameko.exceptions import RemoteError, UnknownService
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as NoSuchPath
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from qunping.core.errors import InvalidInput, NotFound, QunpingError, Refused
from qunping.core.metrics import ROUTE_KEY
from qunping.core.schemas import load
from services.gateway.auth import ORGANISER, Accounts, Principal
from services.gateway.ratelimit import RateLimiter
from services.gateway.routes import (
    ACTOR,
    COMMUNITY,
    DISTRICT,
    MEETING,
    PLEDGE,
    ROUTES,
    UNIT,
    Route,
)
from services.gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)

SESSION_COOKIE = "qp_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COMMUNITY_CACHE_SIZE = 10_000
OWNER_LOOKUPS = {
    MEETING: ("meeting_id", "ballot", "meeting_status"),
    UNIT: ("unit_id", "pledge", "get_unit"),
    PLEDGE: ("pledge_id", "pledge", "pledge_detail"),
}
"""Per scope: the field naming the thing, and the RPC answering its `community`."""
DISTRICT_FIELD = "district"
DISTRICT_LOOKUPS = {
    "meeting_id": ("ballot", "meeting_status", "campaign_id"),
    "campaign_id": ("ballot", "get_campaign", "district"),
    "unit_id": ("pledge", "get_unit", "district"),
    "pledge_id": ("pledge", "pledge_detail", "district"),
}
"""Per field naming a thing: the RPC answering it, and the answer's field that says (or
leads to, by its campaign) its district."""
DISTRICT_LISTS = {"list_campaigns": "campaigns"}
"""RPCs answering a list of every district's: the gateway keeps the caller's district's."""


def district_only(rpc: str, answer: Any, tenant: str) -> Any:
    key = DISTRICT_LISTS.get(rpc)
    if key is None:
        return answer
    return {**answer, key: [one for one in answer[key] if one[DISTRICT_FIELD] == tenant]}


RpcCall = Callable[[str, str, Any], Any]
"""Calls `service.method(payload)` over RPC."""


class Unauthenticated(QunpingError):
    status = 401


class Forbidden(QunpingError):
    status = 403


class TooLarge(QunpingError):
    status = 413


class TooMany(QunpingError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, admitted to a route (`Api.admit`); a local (gateway) route gets it besides
    its payload."""

    principal: Principal | None
    token: str | None
    client: str


@dataclass(frozen=True, slots=True)
class Authorised:
    """A request the caller may make: what goes to the service, and its loaded form."""

    payload: dict[str, Any]
    """The payload as given, with the actor of a staff act and the caller's district where
    the route takes one."""
    loaded: dict[str, Any]
    tenant: str | None
    """The caller's district where the route concerns one (not on public routes)."""


def routes_by_name(routes: Iterable[Route]) -> dict[str, Route]:
    """Each route by its `service.rpc`: a page names the route it reads through so, and a
    second route calling the same RPC would make that name ambiguous."""
    named: dict[str, Route] = {}
    for route in routes:
        if route.name in named:
            raise ValueError(f"two routes call {route.name}; a page could not name one")
        named[route.name] = route
    return named


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status=status,
        headers=dict(headers or {}),
        content_type="application/json; charset=utf-8",
    )


def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 before reading more than `limit` bytes of it."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"bodies are limited to {limit} bytes")
    body: bytes = request.stream.read(limit + 1)
    if len(body) > limit:
        raise TooLarge(f"bodies are limited to {limit} bytes")
    return body


def query_payload(schema: Schema, args: Mapping[str, str]) -> dict[str, Any]:
    """Query strings are text: give integer and boolean fields their JSON types, so the
    same strict schema judges a GET and a POST."""
    payload: dict[str, Any] = {}
    for key, value in args.items():
        field = schema.fields.get(key)
        if isinstance(field, fields.Integer) and re.fullmatch(r"-?\d{1,18}", value):
            payload[key] = int(value)
        elif isinstance(field, fields.Boolean) and value in ("true", "false"):
            payload[key] = value == "true"
        else:
            payload[key] = value
    return payload


def json_payload(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput({"_schema": ["the body is not JSON"]}) from None
    if not isinstance(payload, dict):
        raise InvalidInput({"_schema": ["the body must be a JSON object"]})
    return payload


class Api:
    def __init__(
        self,
        accounts: Accounts,
        settings: GatewaySettings,
        local: Mapping[str, Callable[[dict[str, Any], Caller], Any]],
    ) -> None:
        self.accounts = accounts
        self.settings = settings
        self.local = local
        self.limiters = {
            "login": RateLimiter(settings.login_limit_per_minute),
            "cast": RateLimiter(settings.cast_limit_per_minute),
        }
        self.routes = routes_by_name(ROUTES)
        self.url_map = Map(
            [Rule(route.path, methods=[route.method], endpoint=route) for route in ROUTES],
            strict_slashes=False,
        )
        self._communities: dict[tuple[str, str], str] = {}
        self._districts: dict[tuple[str, str], str] = {}

    def handle(self, request: Request, call: RpcCall) -> Response:
        try:
            route, path_args = self.url_map.bind_to_environ(request.environ).match()
            request.environ[ROUTE_KEY] = route.path
        except NoSuchPath:
            return json_response(404, {"error": "no such endpoint"})
        except MethodNotAllowed as error:
            allowed = ", ".join(error.valid_methods or [])
            return json_response(405, {"error": "method not allowed"}, {"Allow": allowed})
        try:
            return json_response(200, self.answer(route, path_args, request, call))
        except QunpingError as error:
            return self.refusal(error)
        except RemoteError as error:
            # An error the service did not expect: its text stays in the logs, not the answer.
            logger.error("%s failed: %s", route.name, error.exc_type)
            return json_response(502, {"error": f"{route.service} failed"})

    def answer(
        self, route: Route, path_args: Mapping[str, Any], request: Request, call: RpcCall
    ) -> Any:
        body = read_body(request, self.settings.max_body_bytes)
        caller = self.authenticate(route, request)
        if request.method in SAFE_METHODS:
            payload = query_payload(route.schema(), request.args)
        else:
            payload = json_payload(body)
        payload.update(path_args)
        return self.call_route(route, caller, payload, call, path_args)

    def call_route(
        self,
        route: Route,
        caller: Caller,
        payload: dict[str, Any],
        call: RpcCall,
        named_in_path: Mapping[str, Any] | None = None,
    ) -> Any:
        """Everything the API does for `route` once it has admitted the caller: the rules
        of `authorise`, the rate limit, the call, and lists kept to the caller's district.
        The API and the pages both call through here."""
        authorised = self.authorise(route, caller, payload, call, named_in_path)
        if route.limit is not None:
            limiter = self.limiters[route.limit]
            if not limiter.allow(caller.client):
                raise TooMany(limiter.retry_after())
        if route.service == "gateway":
            return self.local[route.rpc](authorised.loaded, caller)
        try:
            result = call(route.service, route.rpc, authorised.payload)
        except UnknownService:
            raise ServiceDown(route.service) from None
        if authorised.tenant is not None:
            result = district_only(route.rpc, result, authorised.tenant)
        return {} if result is None else result

    def authorise(
        self,
        route: Route,
        caller: Caller,
        payload: dict[str, Any],
        call: RpcCall,
        named_in_path: Mapping[str, Any] | None = None,
    ) -> Authorised:
        """Whether the admitted caller may make this request of `route`: whatever it names
        by id is of the caller's district (else 404; what the path names is judged before
        the body), a district it names is the caller's (else 403), the payload is valid
        (else 400 with each field's message), an organiser acts for their own community
        (else 403)."""
        principal = caller.principal
        payload = dict(payload)
        if route.acts and principal is not None:
            payload[ACTOR] = principal.actor
        tenant = None if route.is_public or principal is None else principal.district
        if tenant is not None and named_in_path:
            self.check_district(tenant, named_in_path, call)
        schema = route.schema()
        if tenant is not None and DISTRICT_FIELD in schema.fields:
            named = payload.setdefault(DISTRICT_FIELD, tenant)
            if named != tenant:
                raise Forbidden(f"an account of {tenant} may not act for {named}")
        loaded = load(schema, payload)
        if tenant is not None:
            self.check_district(tenant, loaded, call)
        self.check_scope(route, loaded, principal, call)
        return Authorised(payload, loaded, tenant)

    def authenticate(self, route: Route, request: Request) -> Caller:
        client = request.remote_addr or "unknown"
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else None
        from_cookie = token is None and SESSION_COOKIE in request.cookies
        if from_cookie:
            token = request.cookies[SESSION_COOKIE]
        principal = self.accounts.principal(token) if token else None
        if (
            principal is not None
            and not route.is_public
            and from_cookie
            and request.method not in SAFE_METHODS
            and request.headers.get(CSRF_HEADER) != principal.csrf
        ):
            raise Forbidden(f"a request with the session cookie needs the {CSRF_HEADER} header")
        return self.admit(route, principal, token, client)

    def admit(
        self, route: Route, principal: Principal | None, token: str | None, client: str
    ) -> Caller:
        """The caller, if their role may call `route` at all (anyone, on a public route)."""
        if route.is_public:
            return Caller(principal, token, client)
        if principal is None:
            raise Unauthenticated("log in first: the token is missing, unknown or expired")
        if principal.role not in route.roles:
            raise Forbidden(f"role {principal.role} may not {route.summary.lower()}")
        return Caller(principal, token, client)

    def check_scope(
        self, route: Route, loaded: dict[str, Any], principal: Principal | None, call: RpcCall
    ) -> None:
        if principal is None or principal.role != ORGANISER or route.scope == DISTRICT:
            return
        if route.scope == COMMUNITY:
            community = loaded["community"]
        elif route.scope in OWNER_LOOKUPS:
            community = self.community_of(route.scope, loaded, call)
        else:
            raise ValueError(f"route {route.name} has an unknown scope {route.scope!r}")
        if not principal.may_act_for(community):
            raise Forbidden(f"an organiser of {principal.community} may not act for {community}")

    def check_district(self, tenant: str, loaded: Mapping[str, Any], call: RpcCall) -> None:
        """Whatever the request names by id (a meeting, campaign, unit or letter) belongs to
        the caller's district; another district's is answered as if there were none."""
        for field in DISTRICT_LOOKUPS:
            if (
                loaded.get(field) is not None
                and self.district_of(field, loaded[field], call) != tenant
            ):
                raise NotFound(f"no {field.removesuffix('_id')} {loaded[field]}")

    def district_of(self, field: str, value: str, call: RpcCall) -> str:
        """The district of a meeting (its campaign's), campaign, unit or letter: it never
        changes, so it is asked once per process."""
        key = (field, value)
        district = self._districts.get(key)
        if district is None:
            service, rpc, answer_field = DISTRICT_LOOKUPS[field]
            answer = call(service, rpc, {field: value})
            if answer_field == "campaign_id":
                district = self.district_of("campaign_id", answer["campaign_id"], call)
            else:
                district = str(answer[answer_field])
            if len(self._districts) >= COMMUNITY_CACHE_SIZE:
                self._districts.clear()
            self._districts[key] = district
        return district

    def community_of(self, scope: str, loaded: Mapping[str, Any], call: RpcCall) -> str:
        """A meeting's, unit's or letter's community never changes: asked once per process."""
        field, service, rpc = OWNER_LOOKUPS[scope]
        key = (scope, loaded[field])
        community = self._communities.get(key)
        if community is None:
            community = str(call(service, rpc, {field: loaded[field]})["community"])
            if len(self._communities) >= COMMUNITY_CACHE_SIZE:
                self._communities.clear()
            self._communities[key] = community
        return community

    def refusal(self, error: QunpingError) -> Response:
        headers: dict[str, str] = {}
        if isinstance(error, InvalidInput):
            body: dict[str, Any] = {"errors": error.messages}
        elif isinstance(error, Refused):
            body = {"error": error.reason, "details": error.details}
        elif isinstance(error, NotFound):
            body = {"error": str(error)}
        elif isinstance(error, TooMany):
            body = {"error": "too many requests; try again later"}
            headers["Retry-After"] = str(error.retry_after)
        else:
            body = {"error": str(error.args[0]) if error.args else type(error).__name__}
        if error.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return json_response(error.status, body, headers)


class ServiceDown(QunpingError):
    status = 503

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} is not answering; try again shortly")


class NoAnswer(QunpingError):
    """The service took the request but did not answer in time (busy, or restarting with
    the request waiting in its queue): it may still carry it out."""

    status = 504

    def __init__(self, service: str, seconds: int) -> None:
        super().__init__(
            f"{service} did not answer within {seconds} s; it may still do what was asked, "
            "so look before asking again"
        )
