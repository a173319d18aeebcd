"""hypothesis strategies read off marshmallow schemas: what each field documents as valid,
and the hostile values an attacker would send instead."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from marshmallow import Schema, fields, validate


def valid_payloads(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    """Payloads the schema documents as valid: every required field, some optional ones."""
    required = {n: valid_values(f) for n, f in schema.fields.items() if f.required}
    optional = {n: valid_values(f) for n, f in schema.fields.items() if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


def valid_values(field: fields.Field[Any]) -> st.SearchStrategy[Any]:
    if isinstance(field, fields.Nested):
        return valid_payloads(field.schema)
    if isinstance(field, fields.List):
        low, high = _bounds(list(field.validators), fields.List)
        return st.lists(valid_values(field.inner), min_size=low, max_size=min(high, 3))
    for kind, values in SIMPLE.items():  # subclasses (Email is a String) come first
        if isinstance(field, kind):
            return values(field)
    raise TypeError(f"no strategy for {type(field).__name__}: add one")


def _integers(field: fields.Field[Any]) -> st.SearchStrategy[int]:
    low, high = _bounds(list(field.validators), fields.Integer)
    return st.integers(min_value=low, max_value=high)


def _strings(field: fields.Field[Any]) -> st.SearchStrategy[str]:
    validators = list(field.validators)
    for validator in validators:
        if isinstance(validator, validate.OneOf):
            return st.sampled_from(list(validator.choices))
        if isinstance(validator, validate.Regexp):
            assert isinstance(validator.regex.pattern, str)
            return st.from_regex(_anchored(validator.regex.pattern), fullmatch=True)
    low, high = _bounds(validators, fields.String)
    return st.text(min_size=low, max_size=min(high, 40))


SIMPLE: dict[type[fields.Field[Any]], Callable[[fields.Field[Any]], st.SearchStrategy[Any]]] = {
    fields.Dict: lambda _: st.just({}),
    fields.Boolean: lambda _: st.booleans(),
    fields.Integer: _integers,
    fields.DateTime: lambda _: st.datetimes(timezones=st.timezones()).map(
        lambda moment: moment.isoformat()
    ),
    fields.Email: lambda _: st.from_regex(r"\A[a-z]{1,10}@[a-z]{1,10}\.cn\Z"),
    fields.Url: lambda _: st.from_regex(
        r"\Ahttps?://[a-z]{1,10}(\.[a-z]{2,5})?(:[1-9][0-9]{1,3})?/[a-z]*\Z"
    ),
    fields.String: _strings,
}


def _bounds(validators: list[Any], kind: type[fields.Field[Any]]) -> tuple[int, int]:
    low, high = (0, 10**6) if kind is not fields.Integer else (-(2**31), 2**31)
    for validator in validators:
        if isinstance(validator, validate.Length):
            low = validator.min if validator.min is not None else low
            high = validator.max if validator.max is not None else high
        if isinstance(validator, validate.Range):
            low = int(validator.min) if validator.min is not None else low
            high = int(validator.max) if validator.max is not None else high
    return low, high


def _anchored(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


def deeply_nested(depth: int) -> Any:
    value: Any = "$gt"
    for level in range(depth):
        value = [value] if level % 2 else {"$where": value}
    return value


OPERATOR_VALUES: list[Any] = [
    {"$gt": ""},
    {"$ne": None},
    {"$where": "sleep(1000) || true"},
    {"$regex": ".*"},
    ["$in", "a"],
    deeply_nested(1000),
]
"""What a MongoDB driver would read as a query operator if it reached a filter."""

WRONG_TYPES: list[Any] = [None, 3.5, float("nan"), 10**40, True, "12", [], {}, [[[]]]]

HOSTILE_TEXT = st.lists(
    st.sampled_from(
        [
            "$",
            "$gt",
            "{",
            "}",
            ".",
            "\x00",
            "\u202e",  # right-to-left override
            "\u200b",  # zero-width space
            "\ufeff",
            "\U0001f5f3",  # ballot box emoji
            "\ud7ff",
            "e\u0301",  # combining accent
            "社",
            "'",
            '"',
            "\\",
            "\n",
        ]
    ),
    min_size=1,
    max_size=30,
).map("".join)
"""Strings that are only text to qunping: they must load unchanged or be refused."""

TEN_MEGABYTES = "满" * (10 * 1024 * 1024 // 3)
