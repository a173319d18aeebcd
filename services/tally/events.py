"""The tally log: what was published, when it was computed, from which log position."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields

from qunping.core.schemas import PayloadSchemas, StrictSchema
from qunping.core.tamper import register_tamper_events
from qunping.core.upcasting import Upcasters

payloads = register_tamper_events(PayloadSchemas())
"""Also the alert and the signed checkpoints every log that owns facts carries."""
upcasters = Upcasters()
"""How tally events recorded in an older schema version are read today."""


# Version 1 stated per item valid, abstained and void (the item's invalid marks only), so
# a ballot leaving the item unmarked, or void as a whole, was in none of them. Version 2
# accounts for every returned ballot; v1 events are read through `upcasters`. (The
# docstring is v1's published description, kept as it was.)
@payloads.register("ResultsPublished", 1, public=True)
class ResultsPublishedV1(StrictSchema):
    """A meeting's results, announced at its close (当场公布)."""

    meeting_id = fields.String(required=True)
    campaign_id = fields.String(required=True)
    community = fields.String(required=True)
    policy_hash = fields.String(required=True)
    closing = fields.Dict(required=True)
    results = fields.Dict(required=True)
    source_position = fields.Integer(required=True, strict=True)
    """The ballot log position of the close the results were computed at."""
    source_hash = fields.String(required=True)


class RateSchema(StrictSchema):
    favourable = fields.Integer(required=True, strict=True)
    valid = fields.Integer(required=True, strict=True)
    percent = fields.String(required=True, allow_none=True)
    """favourable / valid in percent, rounded half-up to two decimals; none without votes."""


def rates() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Nested(RateSchema), required=True)


def counts() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer(strict=True), required=True)


class ItemResultsSchema(StrictSchema):
    """One dimension of one subject: valid + abstained + void + blank = returned."""

    dimension = fields.String(required=True)
    counts = counts()
    """Valid marks per value of the scale."""
    valid = fields.Integer(required=True, strict=True)
    abstained = fields.Integer(required=True, strict=True)
    """Marked with the scale's abstention (e.g. 不了解)."""
    void = fields.Integer(required=True, strict=True)
    """An invalid mark on the item, or a ballot void as a whole."""
    blank = fields.Integer(required=True, strict=True)
    """Ballots that leave the item unmarked (a completely blank ballot among them)."""
    rates = rates()


class SubjectResultsSchema(StrictSchema):
    subject_id = fields.String(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    headline = fields.String(required=True)
    """The rate the subject is reported by."""
    dimensions = fields.List(fields.Nested(ItemResultsSchema), required=True)
    counts = counts()
    valid = fields.Integer(required=True, strict=True)
    rates = rates()
    flagged = fields.Boolean(required=True)
    """不称职 at the policy's share."""


class MeetingResultsSchema(StrictSchema):
    returned = fields.Integer(required=True, strict=True)
    void_ballots = fields.Integer(required=True, strict=True)
    blank_ballots = fields.Integer(required=True, strict=True)
    subjects = fields.List(fields.Nested(SubjectResultsSchema), required=True)


@payloads.register("ResultsPublished", 2, public=True)
class ResultsPublished(StrictSchema):
    """A meeting's results, announced at its close (当场公布): per subject and dimension,
    the counts of each value, valid, abstained, void and blank (which add up to the
    ballots returned), and every rate the policy names."""

    meeting_id = fields.String(required=True)
    campaign_id = fields.String(required=True)
    community = fields.String(required=True)
    policy_hash = fields.String(required=True)
    closing = fields.Dict(required=True)
    results = fields.Nested(MeetingResultsSchema, required=True)
    source_position = fields.Integer(required=True, strict=True)
    """The ballot log position of the close the results were computed at."""
    source_hash = fields.String(required=True)


RESULTS_VERSION = 2
"""The `ResultsPublished` schema version the tally writes."""


@upcasters.register("ResultsPublished", 1)
def every_ballot_accounted_per_item(data: Mapping[str, Any]) -> dict[str, Any]:
    """v1 -> v2: exact from v1's own figures. A ballot void as a whole voided every item
    of it (v1 left it out of them), and what no count holds left the item blank."""
    results = data["results"]
    subjects = []
    for subject in results["subjects"]:
        dimensions = []
        for item in subject["dimensions"]:
            void = item["void"] + results["void_ballots"]
            blank = results["returned"] - item["valid"] - item["abstained"] - void
            dimensions.append({**item, "void": void, "blank": blank})
        subjects.append({**subject, "dimensions": dimensions})
    return {**data, "results": {**results, "subjects": subjects}}


@payloads.register("GradeAssigned", public=True)
class GradeAssigned(StrictSchema):
    """A community's 双评 grade in a campaign, and its movement against the last one."""

    campaign_id = fields.String(required=True)
    community = fields.String(required=True)
    mass_score = fields.String(required=True)
    superior_score = fields.Integer(required=True, strict=True)
    composite = fields.String(required=True)
    grade = fields.String(required=True)
    previous_grade = fields.String(required=True, allow_none=True)
    movement = fields.String(required=True)
    source_position = fields.Integer(required=True, strict=True)


class FlagSchema(StrictSchema):
    community = fields.String(required=True)
    subject = fields.String(required=True)
    kind = fields.String(required=True)
    reason = fields.String(required=True)


@payloads.register("AlertRaised", public=True)
class AlertRaised(StrictSchema):
    """A closed meeting needs the district's attention: a community under the policy's alert
    threshold, or a person with 不称职 at the policy's share (for notify's district e-mail)."""

    campaign_id = fields.String(required=True)
    meeting_id = fields.String(required=True)
    community = fields.String(required=True)
    headline = fields.String(required=True)
    details = fields.String(required=True)
    flags = fields.List(fields.Nested(FlagSchema), required=True)
    source_position = fields.Integer(required=True, strict=True)
