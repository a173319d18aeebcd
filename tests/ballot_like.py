"""A stand-in for the ballot log's registry: public meeting facts and an internal ballot.

The real ballot service registers its own; these tests only need one log that has both
kinds, to prove internal events never leave.
"""

from marshmallow import fields

from qunping.core.schemas import PayloadSchemas, StrictSchema

payloads = PayloadSchemas()


@payloads.register("MeetingScheduled", public=True)
class MeetingScheduled(StrictSchema):
    """A community's evaluation meeting is set for a time."""

    meeting_id = fields.String(required=True)
    community = fields.String(required=True)
    starts_at = fields.String(required=True)


@payloads.register("VotingClosed", public=True)
class VotingClosed(StrictSchema):
    meeting_id = fields.String(required=True)
    ballots_returned = fields.Integer(required=True, strict=True)


@payloads.register("BallotCast")
class BallotCast(StrictSchema):
    meeting_id = fields.String(required=True)
    ratings = fields.Dict(required=True, keys=fields.String(), values=fields.String())


def meeting_scheduled(n: int) -> dict[str, str]:
    return {"meeting_id": f"m{n}", "community": "光明社区", "starts_at": "2011-10-12T09:30"}


SECRET_RATING = "不满意-secret-ballot-marker"
"""A value only ballots carry, to search for wherever events leave."""


def ballot_cast(n: int) -> dict[str, object]:
    return {"meeting_id": f"m{n}", "ratings": {"secretary.德": SECRET_RATING}}
