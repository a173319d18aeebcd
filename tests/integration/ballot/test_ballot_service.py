"""The ballot service running for real: nameko on the real broker, the real MongoDB server."""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import kombu
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from pymongo import MongoClient

from qunping.core.amqp import events_exchange
from qunping.core.errors import InvalidInput, NotFound, Refused
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.tamper import TAMPER_EVENTS
from services.ballot.domain import NOT_VALID, token_hash
from services.ballot.events import payloads
from services.ballot.judgement import canonical_ballots
from services.ballot.service import BallotService
from services.ballot.store import BallotStore
from tests.actors import Acting

SUBJECTS = [
    {"kind": "committee"},
    {"kind": "secretary", "name": "王书记"},
    {"kind": "graduate", "name": "李选聘"},
]


@pytest.fixture
def ballot(container_factory: Callable[..., Any], nameko_config: dict[str, Any]) -> Iterator[Any]:
    container = container_factory(BallotService, nameko_config)
    container.start()
    with ClusterRpcProxy(nameko_config) as cluster:
        yield Acting(cluster.ballot)


@pytest.fixture
def ballot_db(nameko_config: dict[str, Any], mongo_client: MongoClient[dict[str, Any]]) -> Any:
    return mongo_client[f"{nameko_config['QUNPING_DB_PREFIX']}ballot"]


def events_in(db: Any) -> int:
    last = db["events"].find_one(sort=[("_id", -1)])
    return 0 if last is None else last["last"]


def meeting_ready(ballot: Any, tokens: int, present: int | None = None) -> tuple[str, list[str]]:
    """A meeting with `present` representatives checked in (enough for quorum and for one
    token each, unless given) and `tokens` tokens issued."""
    present = max(50, tokens) if present is None else present
    campaign = ballot.create_campaign({"district": "吉州区", "year": 2011, "batch": "第一批试点"})
    meeting = ballot.schedule_meeting(
        {
            "campaign_id": campaign["campaign_id"],
            "community": "光明社区",
            "street": "古南街道",
            "starts_at": "2011-10-12T09:00:00+08:00",
            "place": "社区会议室",
            "expected_participants": 60,
            "subjects": SUBJECTS,
        }
    )
    meeting_id = meeting["meeting_id"]
    checking_in = [
        ballot.check_in.call_async(
            {"meeting_id": meeting_id, "name": f"居民{n}", "category": "resident"}
        )
        for n in range(present)
    ]
    for reply in checking_in:
        reply.result()
    issued = (
        ballot.issue_tokens({"meeting_id": meeting_id, "count": tokens})["tokens"] if tokens else []
    )
    return meeting_id, issued


def marks(value: str = "满意") -> list[dict[str, str]]:
    return [
        {"subject": "committee-1", "dimension": "社区服务", "value": value},
        {"subject": "secretary-1", "dimension": "德", "value": "优秀"},
    ]


def test_a_meeting_runs_from_schedule_to_close_and_only_then_shows_ballots(ballot: Any) -> None:
    meeting_id, tokens = meeting_ready(ballot, tokens=55)
    ballot.record_report(
        {"meeting_id": meeting_id, "subject_id": "secretary-1", "text": "一年来……"}
    )
    ballot.open_voting({"meeting_id": meeting_id})
    receipts = [
        ballot.cast_ballot({"meeting_id": meeting_id, "token": t, "marks": marks()})["receipt"]
        for t in tokens[:50]
    ]

    open_status = ballot.meeting_status({"meeting_id": meeting_id})
    with pytest.raises(Refused):
        ballot.meeting_ballots({"meeting_id": meeting_id})
    closed = ballot.close_voting({"meeting_id": meeting_id})

    assert (open_status["phase"], open_status["returned"], open_status["issued"]) == (
        "open",
        50,
        55,
    )
    assert not any(key in json.dumps(open_status) for key in ("满意", "优秀", "marks"))
    assert closed["phase"] == "closed"
    assert (closed["closing"]["returned"], closed["closing"]["valid"]) == (50, 50)
    assert len(ballot.meeting_ballots({"meeting_id": meeting_id})["ballots"]) == 50
    assert ballot.check_receipt({"meeting_id": meeting_id, "code": receipts[7]})["in_ballot_box"]
    assert not ballot.check_receipt({"meeting_id": meeting_id, "code": "0000-0000-0000-0000"})[
        "in_ballot_box"
    ]


def test_every_refusal_writes_no_event(ballot: Any, ballot_db: Any) -> None:
    meeting_id, tokens = meeting_ready(ballot, tokens=2, present=49)
    attempts: list[tuple[Callable[[], Any], type[Exception]]] = [
        (
            lambda: ballot.create_campaign(
                {"district": "吉州区", "year": 2011, "batch": "x", "$where": "1"}
            ),
            InvalidInput,
        ),
        (
            lambda: ballot.create_campaign(
                {
                    "district": "吉州区",
                    "year": 2011,
                    "batch": "x",
                    "policy": {"composite": {"mass_percent": 70, "superior_percent": 40}},
                }
            ),
            InvalidInput,
        ),
        (
            lambda: ballot.check_in(
                {"meeting_id": meeting_id, "name": {"$gt": ""}, "category": "resident"}
            ),
            InvalidInput,
        ),
        (
            lambda: ballot.check_in(
                {"meeting_id": meeting_id, "name": "居民1", "category": "resident"}
            ),
            Refused,
        ),
        (lambda: ballot.open_voting({"meeting_id": meeting_id}), Refused),
        (
            lambda: ballot.cast_ballot(
                {"meeting_id": meeting_id, "token": tokens[0], "marks": marks()}
            ),
            Refused,
        ),
        (lambda: ballot.issue_tokens({"meeting_id": meeting_id, "count": 0}), InvalidInput),
        (
            lambda: ballot.record_report(
                {"meeting_id": meeting_id, "subject_id": "nobody-1", "text": "x"}
            ),
            InvalidInput,
        ),
        (lambda: ballot.schedule_meeting({"campaign_id": "0" * 16}), InvalidInput),
    ]
    before = events_in(ballot_db)

    for attempt, error in attempts:
        with pytest.raises(error):
            attempt()

    assert events_in(ballot_db) == before


def test_refusals_of_phase_write_no_event(ballot: Any, ballot_db: Any) -> None:
    meeting_id, _ = meeting_ready(ballot, tokens=1)
    status = ballot.meeting_status({"meeting_id": meeting_id})
    campaign_id = status["campaign_id"]
    paper = {
        "meeting_id": meeting_id,
        "batch": "b1",
        "entries": [{"slip": 1, "marks": marks()}],
    }
    rerun = {
        "campaign_id": campaign_id,
        "community": "光明社区",
        "street": "古南街道",
        "starts_at": "2011-10-13T09:00:00+08:00",
        "place": "会议室",
        "expected_participants": 60,
        "subjects": SUBJECTS,
        "rerun_of": meeting_id,
    }
    attempts: list[Callable[[], Any]] = [
        lambda: ballot.close_voting({"meeting_id": meeting_id}),
        lambda: ballot.key_paper_batch(paper),
        lambda: ballot.schedule_meeting(rerun),
        lambda: ballot.record_assessment(
            {
                "campaign_id": "0" * 16,
                "community": "光明社区",
                "score": 90,
                "assessor": "区委",
                "basis": "x",
            }
        ),
    ]
    before = events_in(ballot_db)

    for attempt in attempts:
        with pytest.raises((Refused, NotFound)):
            attempt()

    assert events_in(ballot_db) == before
    ballot.void_meeting({"meeting_id": meeting_id, "reason": "会场秩序混乱"})
    voided = events_in(ballot_db)
    with pytest.raises(Refused):
        ballot.void_meeting({"meeting_id": meeting_id, "reason": "again"})
    assert events_in(ballot_db) == voided
    assert ballot.schedule_meeting(rerun)["meeting_id"] != meeting_id, "a void meeting runs again"


def test_bad_input_names_each_wrong_field(ballot: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        ballot.create_campaign({"district": "", "year": "2011", "unknown": 1})

    assert set(refused.value.messages) == {"district", "year", "batch", "unknown"}


def test_two_casts_with_one_token_at_once_count_exactly_once(ballot: Any) -> None:
    meeting_id, [token] = meeting_ready(ballot, tokens=1)
    ballot.open_voting({"meeting_id": meeting_id})

    replies = [
        ballot.cast_ballot.call_async({"meeting_id": meeting_id, "token": token, "marks": marks()})
        for _ in range(2)
    ]
    outcomes = []
    for reply in replies:
        try:
            outcomes.append(reply.result())
        except Refused as refused:
            outcomes.append(refused.reason)

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["dict", "str"]
    assert NOT_VALID in outcomes
    assert ballot.meeting_status({"meeting_id": meeting_id})["returned"] == 1


def test_a_thousand_tokens_cast_at_once_are_each_counted_once(ballot: Any) -> None:
    meeting_id, tokens = meeting_ready(ballot, tokens=1000)
    ballot.open_voting({"meeting_id": meeting_id})

    replies = [
        ballot.cast_ballot.call_async({"meeting_id": meeting_id, "token": t, "marks": marks()})
        for t in tokens
    ]
    receipts = [reply.result()["receipt"] for reply in replies]

    assert len(set(receipts)) == 1000
    closed = ballot.close_voting({"meeting_id": meeting_id})
    assert (closed["closing"]["returned"], closed["closing"]["issued"]) == (1000, 1000)


def test_no_stored_or_published_datum_links_a_representative_to_a_ballot(
    ballot: Any, ballot_db: Any, nameko_config: dict[str, Any]
) -> None:
    connection = kombu.Connection(nameko_config["AMQP_URI"])
    queue = kombu.Queue("secrecy-watch", events_exchange("ballot"), routing_key="#", durable=True)
    queue(connection.default_channel).declare()
    meeting_id, tokens = meeting_ready(ballot, tokens=50)
    ballot.open_voting({"meeting_id": meeting_id})
    for token in tokens:
        ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks()})
    ballot.close_voting({"meeting_id": meeting_id})

    published: list[dict[str, Any]] = []

    def of_the_meeting() -> list[dict[str, Any]]:
        """Less what concerns the whole log (its key, the checkpoint signed at the close),
        which may come at any time."""
        return [e for e in published if e["type"].rpartition(".")[2] not in TAMPER_EVENTS]

    with kombu.Consumer(
        connection, [queue], on_message=lambda m: (published.append(json.loads(m.body)), m.ack())
    ):
        deadline = time.monotonic() + 20
        # campaign, meeting, its seat, 50 check-ins, tokens, opening, 50 ballots and spent
        # tokens, closing
        while len(of_the_meeting()) < 156 and time.monotonic() < deadline:
            try:
                connection.drain_events(timeout=0.5)
            except TimeoutError:
                eventlet.sleep(0)
    queue(connection.default_channel).delete()
    connection.release()

    stored = [e for commit in ballot_db["events"].find() for e in commit["events"]]
    roster = [e for e in stored if e["type"] == "RepresentativeCheckedIn"]
    ballots = [e for e in stored if e["type"] == "BallotCast"]
    assert len(roster) == 50 and len(ballots) == 50
    roster_values = {
        json.dumps(v, ensure_ascii=False)
        for e in roster
        for k, v in e["data"].items()
        if k != "meeting_id"
    }
    ballot_values = {
        json.dumps(v, ensure_ascii=False)
        for e in ballots
        for k, v in e["data"].items()
        if k != "meeting_id"
    }
    assert roster_values.isdisjoint(ballot_values), (
        "no shared value: no key between roster and ballots"
    )
    assert {e["stream"].split("-")[0] for e in roster} == {"roster"}
    assert {e["stream"].split("-")[0] for e in ballots} == {"ballotbox"}
    assert all(e["recorded_at"].hour == 0 and e["recorded_at"].minute == 0 for e in ballots)
    published_ballots = [e for e in published if e["type"].endswith((".BallotCast", ".TokenSpent"))]
    assert len(of_the_meeting()) == 156 and len(published_ballots) == 100
    assert all(e["data"] == {"meeting_id": meeting_id, "sealed": True} for e in published_ballots)
    assert not any("居民" in json.dumps(e, ensure_ascii=False) for e in published_ballots)


def test_remote_errors_are_the_callers_own_types(ballot: Any) -> None:
    with pytest.raises(NotFound) as missing:
        ballot.meeting_status({"meeting_id": "0" * 16})
    assert not isinstance(missing.value, RemoteError)
    assert missing.value.what == "meeting 0000000000000000"


def test_ballots_leave_in_no_order_of_casting_and_tokens_are_stored_in_no_order_of_printing(
    ballot: Any, ballot_db: Any
) -> None:
    """The policy allows one order only inside the ballot log, as a paper ballot box has
    one: what is stored beside the roster (token hashes) and what leaves the service
    (the ballots for counting) carries no order of printing, check-in or casting."""
    meeting_id, tokens = meeting_ready(ballot, tokens=50)
    ballot.open_voting({"meeting_id": meeting_id})
    # The first half votes 满意, the second 不满意: a positional export would show it.
    for n, token in enumerate(tokens):
        value = "满意" if n < 25 else "不满意"
        ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks(value)})
    ballot.close_voting({"meeting_id": meeting_id})

    exported = ballot.meeting_ballots({"meeting_id": meeting_id})["ballots"]

    assert all(set(b) == {"marks"} for b in exported), (
        "no position, id, time, chained hash, channel or receipt"
    )
    assert exported == [{"marks": m} for m in canonical_ballots(b["marks"] for b in exported)]
    values = [b["marks"][0]["value"] for b in exported]
    assert values != ["满意"] * 25 + ["不满意"] * 25
    stored = [e for commit in ballot_db["events"].find() for e in commit["events"]]
    [issued] = [e["data"] for e in stored if e["type"] == "TokensIssued"]
    assert issued["token_hashes"] == sorted(issued["token_hashes"])
    assert issued["token_hashes"] != [token_hash(issued["salt"], t) for t in tokens]


def test_campaigns_and_their_meetings_are_listed_including_ones_scheduled_since(
    ballot: Any,
) -> None:
    first_meeting, _ = meeting_ready(ballot, tokens=1)
    first = ballot.meeting_status({"meeting_id": first_meeting})["campaign_id"]
    assert [c["campaign_id"] for c in ballot.list_campaigns({})["campaigns"]] == [first]

    second = ballot.create_campaign({"district": "吉州区", "year": 2012, "batch": "第二批"})
    later = ballot.schedule_meeting(
        {
            "campaign_id": first,
            "community": "太平桥社区",
            "street": "古南街道",
            "starts_at": "2011-10-13T09:00:00+08:00",
            "place": "社区会议室",
            "expected_participants": 60,
            "subjects": SUBJECTS,
        }
    )["meeting_id"]

    listed = ballot.list_campaigns({})["campaigns"]
    assert [(c["campaign_id"], c["year"]) for c in listed] == [
        (first, 2011),
        (second["campaign_id"], 2012),
    ]
    meetings = ballot.list_meetings({"campaign_id": first})["meetings"]
    assert [m["meeting_id"] for m in meetings] == [first_meeting, later]
    assert ballot.list_meetings({"campaign_id": second["campaign_id"]})["meetings"] == []


def test_a_cast_recorded_by_a_process_that_died_before_answering_is_retried_to_its_receipt(
    ballot: Any, ballot_db: Any
) -> None:
    """Another ballot process recorded the cast and died before answering (its answer is
    never seen): the voter's device retries with its cast id and gets the same receipt;
    someone else with the used token and other marks gets the unknown token's refusal."""
    meeting_id, [token, other] = meeting_ready(ballot, tokens=2)
    ballot.open_voting({"meeting_id": meeting_id})
    cast_id = "5" * 32
    dying = BallotStore(MongoEventLog(ballot_db, "ballot", payload_schemas=payloads))

    def record_only(meeting: Any) -> Any:
        receipt, events = meeting.cast(token, marks("满意"), cast_id)
        return meeting.ballots_decision(events).answering(receipt)

    _, lost_answer = dying.decide(meeting_id, record_only)
    stored = ballot_db["events"].count_documents({})

    retried = ballot.cast_ballot(
        {"meeting_id": meeting_id, "token": token, "marks": marks("满意"), "cast_id": cast_id}
    )
    with pytest.raises(Refused) as used:
        ballot.cast_ballot(
            {
                "meeting_id": meeting_id,
                "token": token,
                "marks": marks("不满意"),
                "cast_id": "6" * 32,
            }
        )
    with pytest.raises(Refused) as used_without_id:
        ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks("不满意")})
    with pytest.raises(Refused) as unknown:
        ballot.cast_ballot({"meeting_id": meeting_id, "token": "y" * 22, "marks": marks()})

    assert retried["receipt"] == lost_answer
    assert used.value.reason == used_without_id.value.reason == unknown.value.reason == NOT_VALID
    assert used.value.details == unknown.value.details
    assert ballot_db["events"].count_documents({}) == stored, "nothing cast twice"
    assert ballot.meeting_status({"meeting_id": meeting_id})["returned"] == 1
    fresh = ballot.cast_ballot(
        {"meeting_id": meeting_id, "token": other, "marks": marks(), "cast_id": cast_id}
    )
    assert fresh["receipt"] != lost_answer
    found = ballot.check_receipt({"meeting_id": meeting_id, "code": lost_answer})
    assert found == {
        "meeting_id": meeting_id,
        "code": lost_answer,
        "in_ballot_box": True,
        "counted": False,
    }
    ballot.close_voting({"meeting_id": meeting_id})
    assert ballot.check_receipt({"meeting_id": meeting_id, "code": lost_answer})["counted"]
