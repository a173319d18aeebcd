"""A steady stream of casts through RPC that knows exactly which ballots were accepted.

Each token is cast once. A reply with a receipt means accepted; so does "not valid" to a
fresh token (the request was recorded, then delivered again after a crash). A cast that got no
answer (a timeout, a dropped connection, a remote crash) may or may not have been
recorded, so it is cast again with the same token once the faults are over: a receipt
means the first attempt was lost, "not valid" means the first attempt was recorded
(nobody else holds the token). "Accepted" is therefore exact, never a guess.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

from qunping.core.errors import QunpingError, Refused
from services.ballot.domain import NOT_VALID
from tests.actors import ORGANISER_ACTOR, SCRUTINEER_ACTOR

VALUES = ("满意", "基本满意", "不满意")
ITEM = {"subject": "committee-1", "dimension": "社区服务"}
SUBJECTS = [{"kind": "committee"}, {"kind": "secretary", "name": "王书记"}]


class Unanswered(Exception):
    """The call got no answer from the service: its outcome is unknown."""


class Caller:
    """RPC to the services, surviving a broker restart by opening a new proxy."""

    def __init__(self, amqp_uri: str, timeout: float) -> None:
        self._config = {"AMQP_URI": amqp_uri}
        self._timeout = timeout
        self._runner: Any = None
        self._proxy: Any = None

    def call(self, service: str, method: str, payload: dict[str, Any]) -> Any:
        try:
            if self._proxy is None:
                self._runner = ClusterRpcProxy(self._config, timeout=self._timeout)
                self._proxy = self._runner.start()
            return getattr(self._proxy[service], method)(payload)
        except QunpingError:
            raise
        except Exception as error:
            self.close()
            raise Unanswered(f"{type(error).__name__}: {error}") from error

    def call_until_answered(
        self, service: str, method: str, payload: dict[str, Any], seconds: float = 120
    ) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            try:
                return self.call(service, method, payload)
            except Unanswered:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def close(self) -> None:
        runner, self._runner, self._proxy = self._runner, None, None
        if runner is not None:
            with contextlib.suppress(Exception):  # its connection may be gone already
                runner.stop()


@dataclass
class Ledger:
    values: dict[str, str] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)
    uncertain: set[str] = field(default_factory=set)
    answered_not_valid: int = 0

    def accepted_counts(self) -> Counter[str]:
        return Counter(self.values[token] for token in self.accepted)


def prepare_meeting(caller: Caller, tokens: int) -> tuple[str, list[str]]:
    """A meeting with quorum, open for voting, and its tokens."""

    def call(method: str, payload: dict[str, Any]) -> Any:
        return caller.call_until_answered("ballot", method, payload)

    campaign_id = call("create_campaign", {"district": "吉州区", "year": 2011, "batch": "故障"})[
        "campaign_id"
    ]
    meeting_id = call(
        "schedule_meeting",
        {
            "campaign_id": campaign_id,
            "community": "光明社区",
            "street": "古南街道",
            "starts_at": "2011-10-12T09:00:00+08:00",
            "place": "社区会议室",
            "expected_participants": 60,
            "subjects": SUBJECTS,
            "actor": ORGANISER_ACTOR,
        },
    )["meeting_id"]
    for n in range(max(50, tokens)):
        call(
            "check_in",
            {
                "meeting_id": meeting_id,
                "name": f"代表{n}",
                "category": "resident",
                "actor": ORGANISER_ACTOR,
            },
        )
    issued: list[str] = call(
        "issue_tokens", {"meeting_id": meeting_id, "count": tokens, "actor": ORGANISER_ACTOR}
    )["tokens"]
    call("open_voting", {"meeting_id": meeting_id, "actor": SCRUTINEER_ACTOR})
    return meeting_id, issued


def cast_payload(meeting_id: str, token: str, value: str) -> dict[str, Any]:
    return {"meeting_id": meeting_id, "token": token, "marks": [{**ITEM, "value": value}]}


def cast_stream(
    caller: Caller,
    meeting_id: str,
    tokens: list[str],
    rng: random.Random,
    keep_going: Callable[[], bool],
) -> Ledger:
    """Cast one token after another while `keep_going()`; faults may strike at any time."""
    ledger = Ledger()
    for token in tokens:
        if not keep_going():
            break
        value = ledger.values[token] = rng.choice(VALUES)
        try:
            caller.call("ballot", "cast_ballot", cast_payload(meeting_id, token, value))
            ledger.accepted.add(token)
        except Unanswered:
            ledger.uncertain.add(token)
        except Refused as refused:
            # The service recorded this request, died before acknowledging it, and the
            # broker delivered it again: the second delivery found the token spent.
            assert refused.reason == NOT_VALID, refused
            ledger.accepted.add(token)
            ledger.answered_not_valid += 1
    return ledger


def resolve(caller: Caller, meeting_id: str, ledger: Ledger) -> None:
    """Cast each unanswered token again: the answer tells whether the first was recorded."""
    for token in sorted(ledger.uncertain):
        payload = cast_payload(meeting_id, token, ledger.values[token])
        try:
            caller.call_until_answered("ballot", "cast_ballot", payload)
        except Refused as refused:
            assert refused.reason == NOT_VALID, refused
        ledger.accepted.add(token)
    ledger.uncertain.clear()
