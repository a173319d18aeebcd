"""The boundary's building blocks: whole-string patterns."""

import pytest
from marshmallow import ValidationError

from qunping.core.schemas import Pattern, load
from services.ballot.schemas import MeetingRef


def test_a_pattern_refuses_a_value_with_a_trailing_newline() -> None:
    with pytest.raises(ValidationError):
        Pattern(r"^[0-9a-f]{16}$")("0123456789abcdef\n")


def test_a_pattern_accepts_a_value_that_matches_whole() -> None:
    assert Pattern(r"^[0-9a-f]{16}$")("0123456789abcdef") == "0123456789abcdef"


def test_a_meeting_id_with_a_trailing_newline_is_refused_by_name() -> None:
    from qunping.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        load(MeetingRef(), {"meeting_id": "0123456789abcdef\n"})

    assert "meeting_id" in refused.value.messages
