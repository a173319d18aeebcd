"""Property-based tests of every command schema: what a schema documents loads; anything
else, however hostile, raises InvalidInput naming the field, and never another exception."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields

from qunping.core.errors import InvalidInput
from qunping.core.feed import FeedRequest
from qunping.core.schemas import StrictSchema, load
from services.ballot import schemas as ballot
from services.notify import schemas as notify
from services.tally import schemas as tally
from tests.unit.hostile.schema_strategies import (
    HOSTILE_TEXT,
    OPERATOR_VALUES,
    TEN_MEGABYTES,
    WRONG_TYPES,
    valid_payloads,
)


def command_schemas() -> list[type[Schema]]:
    """Every schema a service loads its RPC payloads with."""
    modules = [ballot, notify, tally]
    found = [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, StrictSchema)
        and value is not StrictSchema
        and value.__module__ == module.__name__
    ]
    return [*found, FeedRequest]


SCHEMAS = command_schemas()
IDS = [f"{schema.__module__.split('.')[-2]}.{schema.__name__}" for schema in SCHEMAS]
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KIND: dict[type[fields.Field[Any]], tuple[type, ...]] = {
    fields.Nested: (dict,),
    fields.List: (list,),
    fields.Dict: (dict,),
    fields.Boolean: (bool,),
    fields.Integer: (int,),
    fields.DateTime: (datetime.datetime,),
    fields.String: (str,),
}


def kind_of(field: fields.Field[Any]) -> tuple[type, ...]:
    return next(kind for base, kind in KIND.items() if isinstance(field, base))


def test_every_service_command_schema_is_under_test() -> None:
    assert len(SCHEMAS) >= 25
    assert {ballot.CastBallot, notify.SubscribeWebhook, tally.MeetingRef} <= set(SCHEMAS)


@pytest.mark.parametrize("schema", SCHEMAS, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_a_payload_the_schema_documents_loads(schema: type[Schema], data: st.DataObject) -> None:
    payload = data.draw(valid_payloads(schema()))

    loaded = load(schema(), payload)

    assert set(loaded) >= set(payload)


@pytest.mark.parametrize("schema", SCHEMAS, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_an_unknown_field_is_refused_by_name(schema: type[Schema], data: st.DataObject) -> None:
    payload = data.draw(valid_payloads(schema()))
    intruder = data.draw(st.sampled_from(["$where", "$gt", "__proto__", "_id", "token_hash"]))
    value = data.draw(st.sampled_from([*OPERATOR_VALUES[:4], "1"]))

    with pytest.raises(InvalidInput) as refused:
        load(schema(), {**payload, intruder: value})

    assert intruder in refused.value.messages


def fields_of(schema: type[Schema]) -> list[tuple[type[Schema], str]]:
    return [(schema, name) for name in schema().fields]


FIELDS = [pair for schema in SCHEMAS for pair in fields_of(schema)]
FIELD_IDS = [f"{schema.__name__}.{name}" for schema, name in FIELDS]


@dataclass(frozen=True)
class Refusal:
    messages: dict[str, Any]


def loaded_field(schema: type[Schema], name: str, payload: dict[str, Any]) -> Any:
    """The field's value as loaded, or the `Refusal`; any other exception escapes."""
    try:
        return load(schema(), payload)[name]
    except InvalidInput as refused:
        return Refusal(refused.messages)


def refused_by_name_or_of_its_kind(schema: type[Schema], name: str, loaded: Any) -> bool:
    """A refusal must name the field, and a value let through must be of the field's own
    kind (an operator dict never gets through as a string, say)."""
    if isinstance(loaded, Refusal):
        return name in loaded.messages
    field = schema().fields[name]
    return isinstance(loaded, kind_of(field)) or (loaded is None and field.allow_none)


@pytest.mark.parametrize(("schema", "name"), FIELDS, ids=FIELD_IDS)
@PROPERTY
@given(data=st.data())
def test_an_operator_or_a_wrong_type_in_any_field_is_refused_or_kept_inert(
    schema: type[Schema], name: str, data: st.DataObject
) -> None:
    payload = data.draw(valid_payloads(schema()))
    hostile = data.draw(st.sampled_from(OPERATOR_VALUES + WRONG_TYPES))

    loaded = loaded_field(schema, name, {**payload, name: hostile})

    assert refused_by_name_or_of_its_kind(schema, name, loaded), loaded


@pytest.mark.parametrize(("schema", "name"), FIELDS, ids=FIELD_IDS)
@PROPERTY
@given(data=st.data())
def test_hostile_text_in_any_field_loads_unchanged_or_is_refused(
    schema: type[Schema], name: str, data: st.DataObject
) -> None:
    payload = data.draw(valid_payloads(schema()))
    text = data.draw(HOSTILE_TEXT)

    loaded = loaded_field(schema, name, {**payload, name: text})

    assert refused_by_name_or_of_its_kind(schema, name, loaded), loaded
    assert not isinstance(loaded, str) or loaded == text


@pytest.mark.parametrize(("schema", "name"), FIELDS, ids=FIELD_IDS)
@settings(max_examples=2, deadline=None)
@given(data=st.data())
def test_ten_megabytes_in_any_field_are_refused(
    schema: type[Schema], name: str, data: st.DataObject
) -> None:
    payload = data.draw(valid_payloads(schema()))

    with pytest.raises(InvalidInput) as refused:
        load(schema(), {**payload, name: TEN_MEGABYTES})

    assert name in refused.value.messages
