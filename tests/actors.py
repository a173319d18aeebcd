"""The acting accounts tests send with staff commands (the gateway sends the login's)."""

from typing import Any

from qunping.core.roles import ASSESSOR, DISTRICT_ADMIN, ORGANISER, SCRUTINEER

COMMUNITY = "光明社区"
ORGANISER_ACTOR = {"username": "organiser", "role": ORGANISER, "community": COMMUNITY}
OTHER_ORGANISER = {"username": "organiser-2", "role": ORGANISER, "community": COMMUNITY}
SCRUTINEER_ACTOR = {"username": "scrutineer", "role": SCRUTINEER, "community": None}
ADMIN_ACTOR = {"username": "admin", "role": DISTRICT_ADMIN, "community": None}
ASSESSOR_ACTOR = {"username": "assessor", "role": ASSESSOR, "community": None}


def organiser_of(community: str) -> dict[str, Any]:
    return {"username": f"organiser-{community}", "role": ORGANISER, "community": community}


ACTOR_OF = {
    "create_campaign": None,
    "schedule_meeting": ORGANISER_ACTOR,
    "record_report": ORGANISER_ACTOR,
    "check_in": ORGANISER_ACTOR,
    "issue_tokens": ORGANISER_ACTOR,
    "issue_paper_slips": ORGANISER_ACTOR,
    "key_paper_batch": ORGANISER_ACTOR,
    "open_voting": SCRUTINEER_ACTOR,
    "close_voting": SCRUTINEER_ACTOR,
    "void_meeting": ADMIN_ACTOR,
    "record_assessment": ASSESSOR_ACTOR,
    "publish_announcement": ORGANISER_ACTOR,
    "withdraw_announcement": ADMIN_ACTOR,
    "start_evaluation": ORGANISER_ACTOR,
    "rerun_evaluation": ORGANISER_ACTOR,
}
"""Who sends each staff command in tests that call the services straight over RPC, as the
gateway would pass the login."""


class Acting:
    """An RPC service proxy that sends each staff command with its usual acting account,
    unless the payload names one."""

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._proxy, method)
        actor = ACTOR_OF.get(method)
        if actor is None:
            return target
        return _WithActor(target, actor)


class _WithActor:
    def __init__(self, target: Any, actor: dict[str, Any]) -> None:
        self._target = target
        self._actor = actor

    def _payload(self, payload: Any) -> Any:
        if isinstance(payload, dict) and "actor" not in payload:
            return {**payload, "actor": self._actor}
        return payload

    def __call__(self, payload: Any) -> Any:
        return self._target(self._payload(payload))

    def call_async(self, payload: Any) -> Any:
        return self._target.call_async(self._payload(payload))
