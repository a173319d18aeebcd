"""The committed contract documents are what the code generates, and are valid."""

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from qunping.core.envelope import NewEvent, to_cloudevent
from qunping.core.memory_eventlog import InMemoryEventLog
from qunping.operator.contract import REGISTRIES, public_event_schemas, rendered_documents
from tests import ballot_like

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_committed_contract_documents_are_not_stale() -> None:
    expected = rendered_documents(REGISTRIES)
    committed = {
        str(path.relative_to(DOCS)): path.read_text(encoding="utf-8")
        for path in [*DOCS.glob("events/*.json"), DOCS / "asyncapi.yaml"]
        if path.exists()
    }

    assert committed == expected, "run `qunping contract generate` and commit docs/"


def test_every_public_event_schema_is_valid_json_schema() -> None:
    schemas = public_event_schemas({**REGISTRIES, "ballot": ballot_like.payloads})

    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    assert ("ballot", "MeetingScheduled", 1) in schemas
    assert ("ballot", "BallotCast", 1) not in schemas, "internal events are not in the contract"


def test_the_asyncapi_document_routes_each_public_event_to_its_schema_file() -> None:
    document = yaml.safe_load(rendered_documents(REGISTRIES)["asyncapi.yaml"])

    assert document["asyncapi"] == "2.6.0"
    for key, channel in document["channels"].items():
        assert channel["bindings"]["amqp"]["exchange"]["name"] == "qunping.public"
        for reference in channel["subscribe"]["message"]["oneOf"]:
            message = document["components"]["messages"][reference["$ref"].split("/")[-1]]
            assert (DOCS / message["payload"]["$ref"]).exists()
            assert message["name"].startswith(key)


def test_a_payload_outside_its_schema_fails_the_json_schema() -> None:
    log = InMemoryEventLog("ballot", payload_schemas=ballot_like.payloads)
    [event] = log.append(
        "meeting-1", [NewEvent("MeetingScheduled", ballot_like.meeting_scheduled(1))]
    )
    schema = public_event_schemas({"ballot": ballot_like.payloads})[
        ("ballot", "MeetingScheduled", 1)
    ]
    validator = Draft202012Validator(schema)
    good = to_cloudevent(event)

    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors({**good, "data": {**good["data"], "extra": 1}}))
    assert list(validator.iter_errors({**good, "type": "qunping.ballot.BallotCast"}))


def test_the_operator_command_writes_what_is_committed(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qunping.operator.cli import cli

    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "notify.Retired.v1.json").write_text("{}")

    result = CliRunner().invoke(cli, ["contract", "generate", "--docs", str(tmp_path)])

    assert result.exit_code == 0, result.output
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert written == set(rendered_documents(REGISTRIES)), "a retired event's schema is removed"
    assert (tmp_path / "asyncapi.yaml").read_text() == (DOCS / "asyncapi.yaml").read_text()
