"""Schemathesis fuzzes the running gateway from its own /openapi.json, with the real
services behind it: every answer is a status the document names for that operation, and
none is a server error."""

from __future__ import annotations

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from services.gateway.auth import DISTRICT_ADMIN
from tests.integration.gateway.gateway_stack import Stack

EXAMPLES_PER_OPERATION = 10
LOGOUT = "gateway_logout"
"""Fuzzed as an admin it would end the very session the other operations are fuzzed with;
it is fuzzed anonymously, and test_api.py checks a logged-out token is refused."""


def fuzz_operation(
    operation: schemathesis.APIOperation, session: requests.Session, headers: dict[str, str]
) -> tuple[int, list[str]]:
    """How many requests were sent, and each answer that was undocumented or a 5xx."""
    operation_id = operation.definition.raw["operationId"]
    documented = {int(status) for status in operation.definition.raw["responses"]}
    failures: list[str] = []
    sent = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def send(case: schemathesis.Case) -> None:
        nonlocal sent
        response = case.call(session=session, headers=headers, timeout=30)
        sent += 1
        if response.status_code >= 500 or response.status_code not in documented:
            failures.append(
                f"{operation_id}: {response.status_code} {response.text[:200]!r}"
                f" for {case.as_curl_command(headers=headers)}"
            )

    send()
    return sent, failures


def fuzz(stack: Stack, headers: dict[str, str], skip: frozenset[str] = frozenset()) -> int:
    """Every operation, a few generated requests each; all the failures at once."""
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json", timeout=30)
    failures: list[str] = []
    sent = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.definition.raw["operationId"] in skip:
                continue
            operation_sent, operation_failures = fuzz_operation(operation, session, headers)
            sent += operation_sent
            failures += operation_failures
    assert not failures, "\n".join(failures)
    return sent


def test_fuzzed_requests_of_anyone_get_documented_statuses_and_never_a_server_error(
    stack: Stack,
) -> None:
    assert fuzz(stack, {}) > 200


def test_fuzzed_requests_of_a_district_admin_get_documented_statuses_and_never_a_server_error(
    stack: Stack,
) -> None:
    admin = stack.account("fuzzing-admin", DISTRICT_ADMIN)
    assert fuzz(stack, {"Authorization": f"Bearer {admin}"}, skip=frozenset({LOGOUT})) > 200
