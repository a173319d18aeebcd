"""The scoring policy: data, never code.

A campaign carries one; each meeting gets a copy, with its hash, when it is scheduled, so a
later edit never changes a held meeting. Everything is an integer or a string (percentages,
fractions as pairs) so a policy hashes to the same bytes on any machine.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from qunping.core.envelope import canonical_json
from qunping.core.errors import InvalidInput
from qunping.core.schemas import Pattern, StrictSchema

SATISFACTION = "satisfaction"
EXCELLENCE = "excellence"

DEFAULT_POLICY: dict[str, Any] = {
    "scales": {
        SATISFACTION: {"values": ["满意", "基本满意", "不满意"], "abstain": ["不了解"]},
        EXCELLENCE: {"values": ["优秀", "称职", "基本称职", "不称职"], "abstain": []},
    },
    # Which values each named rate counts as favourable, per scale.
    "rates": {
        SATISFACTION: {"satisfaction": ["满意", "基本满意"], "strict": ["满意"]},
        EXCELLENCE: {"excellence": ["优秀"], "satisfaction": ["优秀", "称职"], "unfit": ["不称职"]},
    },
    "kinds": {
        "committee": {
            "label": "社区两委班子",
            "scale": SATISFACTION,
            "headline": "satisfaction",
            "dimensions": ["社区服务", "卫生", "文化", "治安", "环境", "总体评价"],
            "named": False,
            "min": 1,
            "max": 1,
        },
        "secretary": {
            "label": "党支部书记",
            "scale": EXCELLENCE,
            "headline": "satisfaction",
            "dimensions": ["德", "能", "勤", "绩", "廉"],
            "named": True,
            "min": 1,
            "max": 1,
        },
        "graduate": {
            "label": "选聘生",
            "scale": EXCELLENCE,
            "headline": "excellence",
            "dimensions": ["政治素养", "工作能力", "出勤出工", "工作实绩", "工作作风", "参加培训"],
            "named": True,
            "min": 0,
            "max": 20,
        },
    },
    "quorum": {"min_present": 50, "min_resident_percent": None},
    "invalid_mark_voids": "item",
    "composite": {"mass_percent": 60, "superior_percent": 40},
    "grades": [{"grade": "示范", "min_score": 90}, {"grade": "标准", "min_score": 75}],
    "base_grade": "普通",
    "flag_unfit_share": [1, 3],
    "alert_below_percent": 80,
}


class ScaleSchema(StrictSchema):
    values = fields.List(
        fields.String(validate=validate.Length(min=1, max=16)),
        required=True,
        validate=validate.Length(min=2, max=10),
    )
    abstain = fields.List(
        fields.String(validate=validate.Length(min=1, max=16)),
        required=True,
        validate=validate.Length(max=3),
    )


class KindSchema(StrictSchema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=40))
    scale = fields.String(required=True)
    headline = fields.String(required=True)
    """The rate (of the scale's rates) that a subject of this kind is reported by."""
    dimensions = fields.List(
        fields.String(validate=validate.Length(min=1, max=20)),
        required=True,
        validate=validate.Length(min=1, max=20),
    )
    named = fields.Boolean(required=True)
    min = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=50))
    max = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=50))


class QuorumSchema(StrictSchema):
    min_present = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=100_000)
    )
    min_resident_percent = fields.Integer(
        required=True, strict=True, allow_none=True, validate=validate.Range(min=1, max=100)
    )


class CompositeSchema(StrictSchema):
    mass_percent = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=100)
    )
    superior_percent = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=100)
    )


class GradeBandSchema(StrictSchema):
    grade = fields.String(required=True, validate=validate.Length(min=1, max=10))
    min_score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))


class PolicySchema(StrictSchema):
    """A whole policy, checked for sense as well as shape."""

    scales = fields.Dict(keys=fields.String(), values=fields.Nested(ScaleSchema), required=True)
    rates = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.List(fields.String())),
        required=True,
    )
    kinds = fields.Dict(
        keys=fields.String(validate=Pattern(r"^[a-z][a-z_]{1,20}$")),
        values=fields.Nested(KindSchema),
        required=True,
    )
    quorum = fields.Nested(QuorumSchema, required=True)
    invalid_mark_voids = fields.String(required=True, validate=validate.OneOf(["item", "ballot"]))
    composite = fields.Nested(CompositeSchema, required=True)
    grades = fields.List(
        fields.Nested(GradeBandSchema), required=True, validate=validate.Length(min=1, max=5)
    )
    base_grade = fields.String(required=True, validate=validate.Length(min=1, max=10))
    flag_unfit_share = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=100)),
        required=True,
        validate=validate.Length(equal=2),
    )
    alert_below_percent = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=100)
    )

    @validates_schema
    def makes_sense(self, policy: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        for section, problems in (
            ("composite", _composite_problems(policy)),
            ("grades", _grade_problems(policy)),
            ("kinds", _kind_problems(policy)),
            ("rates", _rate_problems(policy)),
            ("scales", _scale_problems(policy)),
            ("flag_unfit_share", _share_problems(policy)),
        ):
            if problems:
                errors[section] = problems
        if errors:
            raise ValidationError(errors)


def _composite_problems(policy: dict[str, Any]) -> list[str]:
    composite = policy["composite"]
    if composite["mass_percent"] + composite["superior_percent"] != 100:
        return ["mass_percent and superior_percent must add up to 100"]
    return []


def _grade_problems(policy: dict[str, Any]) -> list[str]:
    scores = [band["min_score"] for band in policy["grades"]]
    if scores != sorted(scores, reverse=True) or len(set(scores)) != len(scores):
        return ["grade bands must run from the highest min_score down, without ties"]
    return []


def _kind_problems(policy: dict[str, Any]) -> list[str]:
    problems = []
    for name, kind in policy["kinds"].items():
        if kind["scale"] not in policy["scales"]:
            problems.append(f"{name}: unknown scale {kind['scale']!r}")
        elif kind["headline"] not in policy["rates"].get(kind["scale"], {}):
            problems.append(f"{name}: headline {kind['headline']!r} is not a rate of its scale")
        if kind["min"] > kind["max"]:
            problems.append(f"{name}: min is above max")
        if len(set(kind["dimensions"])) != len(kind["dimensions"]):
            problems.append(f"{name}: a dimension appears twice")
    return problems


def _rate_problems(policy: dict[str, Any]) -> list[str]:
    problems = []
    for scale_name, rates in policy["rates"].items():
        scale = policy["scales"].get(scale_name)
        if scale is None:
            problems.append(f"rates for unknown scale {scale_name!r}")
            continue
        if not rates:
            problems.append(f"{scale_name}: needs at least one rate")
        for rate, values in rates.items():
            unknown = sorted(set(values) - set(scale["values"]))
            if unknown:
                problems.append(f"{scale_name}.{rate}: unknown scale value {unknown}")
    problems += [
        f"scale {name!r} has no rates" for name in policy["scales"] if name not in policy["rates"]
    ]
    return problems


def _scale_problems(policy: dict[str, Any]) -> list[str]:
    return [
        f"{name}: values repeat or are also abstentions"
        for name, scale in policy["scales"].items()
        if set(scale["values"]) & set(scale["abstain"])
        or len(set(scale["values"])) != len(scale["values"])
    ]


def _share_problems(policy: dict[str, Any]) -> list[str]:
    numerator, denominator = policy["flag_unfit_share"]
    return ["a share above 1 can never be reached"] if numerator > denominator else []


def merged_with_defaults(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The default policy with top-level sections replaced by `overrides`, then validated."""
    policy = copy.deepcopy(DEFAULT_POLICY)
    for section, value in (overrides or {}).items():
        policy[section] = value
    try:
        return dict(PolicySchema().load(policy))
    except ValidationError as error:
        raise InvalidInput({"policy": error.messages}) from None


def policy_hash(policy: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(policy)).hexdigest()


def scale_of(policy: Mapping[str, Any], kind: str) -> dict[str, Any]:
    scale: dict[str, Any] = policy["scales"][policy["kinds"][kind]["scale"]]
    return scale
