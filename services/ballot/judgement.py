"""How one ballot counts, under a meeting's policy: pure, and shared with the tally.

A ballot is stored as cast (its raw marks), and this judgement is applied wherever it is
counted, so an auditor re-deriving the results applies exactly the same rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qunping.core.envelope import canonical_json
from services.ballot.policy import scale_of

Item = tuple[str, str]
"""(subject id, dimension)."""


@dataclass(frozen=True)
class Judgement:
    ratings: dict[Item, str] = field(default_factory=dict)
    """The valid marks: one scale value per item."""
    abstained: frozenset[Item] = frozenset()
    """Items marked with an abstention value (e.g. 不了解)."""
    void_items: frozenset[Item] = frozenset()
    """Items with a value outside the scale or more than one mark."""
    void: bool = False
    """The whole ballot is void (the policy voids a ballot for any invalid mark)."""
    blank: bool = False
    """No mark at all: returned, and abstains on everything."""

    @property
    def marked(self) -> frozenset[Item]:
        """The items this ballot marks at all (validly, abstaining, or void)."""
        return frozenset(self.ratings) | self.abstained | self.void_items


def judge(
    policy: Mapping[str, Any],
    subjects: Sequence[Mapping[str, Any]],
    marks: Sequence[Mapping[str, str]],
) -> Judgement:
    if not marks:
        return Judgement(blank=True)
    kinds = {subject["id"]: subject["kind"] for subject in subjects}
    by_item: dict[Item, list[str]] = {}
    for mark in marks:
        by_item.setdefault((mark["subject"], mark["dimension"]), []).append(mark["value"])
    ratings: dict[Item, str] = {}
    abstained: set[Item] = set()
    void_items: set[Item] = set()
    for item, values in by_item.items():
        scale = scale_of(policy, kinds[item[0]])
        if len(values) != 1:
            void_items.add(item)
        elif values[0] in scale["values"]:
            ratings[item] = values[0]
        elif values[0] in scale["abstain"]:
            abstained.add(item)
        else:
            void_items.add(item)
    if void_items and policy["invalid_mark_voids"] == "ballot":
        return Judgement(void_items=frozenset(void_items), void=True)
    return Judgement(ratings, frozenset(abstained), frozenset(void_items))


def canonical_ballots(
    ballots: Iterable[Sequence[Mapping[str, str]]],
) -> list[list[dict[str, str]]]:
    """The ballot box as an unordered multiset: each ballot its marks in a canonical order,
    the ballots sorted by their canonical JSON. Nothing of the order they were cast in,
    nor of the order a device listed the marks in, survives."""
    ballots_sorted = [
        sorted(
            (
                {"subject": m["subject"], "dimension": m["dimension"], "value": m["value"]}
                for m in b
            ),
            key=lambda mark: (mark["subject"], mark["dimension"], mark["value"]),
        )
        for b in ballots
    ]
    return sorted(ballots_sorted, key=canonical_json)


def ballots_digest(ballots: Iterable[Sequence[Mapping[str, str]]]) -> str:
    """What `VotingClosed` commits to: SHA-256 of the canonical multiset's canonical JSON."""
    return hashlib.sha256(canonical_json(canonical_ballots(ballots))).hexdigest()
