"""The OpenAPI 3 document of the API, generated from the route table and its schemas.

Every route is documented with its request schema (the service's own marshmallow schema,
through apispec's MarshmallowPlugin) and every status it can answer.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from services.gateway.api import SAFE_METHODS
from services.gateway.routes import ACTOR, LOGIN, ROUTES, Route

PATH_PARAMETER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")

ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "details": {"type": "object"}},
    "required": ["error"],
}
FIELD_ERRORS = {
    "type": "object",
    "properties": {"errors": {"type": "object", "description": "messages per field"}},
    "required": ["errors"],
}
STATUSES = {
    400: ("bad input; each field's message", "FieldErrors"),
    401: ("not logged in, or the token expired", "Error"),
    403: ("this role or community may not", "Error"),
    404: ("no such thing", "Error"),
    409: ("the rules forbid it now (wrong phase, used token, quorum)", "Error"),
    413: ("the body is over the limit", "Error"),
    429: ("too many requests; see Retry-After", "Error"),
    502: ("the service failed", "Error"),
    503: ("the service is not answering", "Error"),
    504: ("the service did not answer in time; it may still do what was asked", "Error"),
}


def schema_name(schema: type[Schema] | Schema) -> str:
    """`ballot.CastBallot`: schemas of different services may share a class name."""
    cls = schema if isinstance(schema, type) else type(schema)
    owner = cls.__module__.split(".")[1]
    return f"{owner}.{cls.__name__}"


def openapi_path(path: str) -> str:
    return PATH_PARAMETER.sub(r"{\1}", path)


def statuses(route: Route) -> list[int]:
    answered = [400, 503]
    if not route.is_public:
        answered += [401, 403]
    elif route.limit == LOGIN:
        answered.append(401)  # a wrong username or password
    if route.can_refuse or PATH_PARAMETER.search(route.path):
        answered += [404, 409]
    if route.method not in SAFE_METHODS:
        answered.append(413)
    if route.limit:
        answered.append(429)
    if route.service != "gateway":
        answered += [502, 504]
    return sorted(answered)


def operation(route: Route, plugin: MarshmallowPlugin) -> dict[str, Any]:
    path_names = PATH_PARAMETER.findall(route.path)
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        for name in path_names
    ]
    described: dict[str, Any] = {
        "operationId": route.name.replace(".", "_"),
        "summary": route.summary,
        "tags": [route.service],
        "responses": {"200": {"description": "done", "content": json_content({"type": "object"})}},
    }
    if route.method in SAFE_METHODS:
        assert plugin.converter is not None  # set once the plugin is added to a spec
        parameters += [
            parameter
            for parameter in plugin.converter.schema2parameters(route.schema, location="query")
            if parameter["name"] not in path_names
        ]
    else:
        described["requestBody"] = {
            "required": True,
            "content": json_content(schema_name(route.schema)),
        }
    if parameters:
        described["parameters"] = parameters
    for status in statuses(route):
        description, component = STATUSES[status]
        described["responses"][str(status)] = {
            "description": description,
            "content": json_content(component),
        }
    described["security"] = [] if route.is_public else [{"bearer": []}, {"session": []}]
    return described


def json_content(schema: str | dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


@cache
def openapi_document() -> dict[str, Any]:
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(
        title="qunping (群评) gateway",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": "Every command and query of qunping's services, with roles: "
            "district_admin, organiser (own community only), assessor, auditor (read-only), "
            "scrutineer (监票人: opens and closes voting, keys paper ballots). Every staff "
            "command is recorded with the account that sent it."
        },
    )
    spec.components.schema("Error", ERROR)
    spec.components.schema("FieldErrors", FIELD_ERRORS)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": "qp_session"}
    )
    for schema in {route.schema for route in ROUTES}:
        # The acting account is the login's, set by the gateway: no client sends it.
        shown = schema(exclude=[ACTOR]) if ACTOR in schema().fields else schema
        spec.components.schema(schema_name(schema), schema=shown)
    operations: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        by_method = operations.setdefault(openapi_path(route.path), {})
        by_method[route.method.lower()] = operation(route, plugin)
    for path, by_method in operations.items():
        spec.path(path=path, operations=by_method)
    document: dict[str, Any] = spec.to_dict()
    return document
