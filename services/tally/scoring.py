"""The formulas of docs/architecture.md#scoring-policy, as a meeting's policy says: pure, exact.

Rates are kept as exact fractions (favourable, valid) and shown as percentages rounded
half-up to two decimals only at the edge, so pooled figures never compound rounding. So is
everything computed from rates: the mass score, the 双评 composite and the mean of community
rates are `Fraction`s, which no precision setting cuts short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from services.ballot.judgement import Item, Judgement, judge

GRADE_ORDER_BASE = 0


def half_up(value: Fraction) -> str:
    """An exact number shown with two decimals, halves rounded away from zero: "95.94"."""
    cents = int(abs(value) * 100 + Fraction(1, 2))
    sign = "-" if value < 0 and cents else ""
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def percent(favourable: int, valid: int) -> str | None:
    """`favourable / valid` as a percentage with two decimals, e.g. "95.94"; None if no vote."""
    if valid == 0:
        return None
    return half_up(Fraction(favourable * 100, valid))


def rate(favourable: int, valid: int) -> dict[str, Any]:
    return {"favourable": favourable, "valid": valid, "percent": percent(favourable, valid)}


def meeting_results(
    policy: Mapping[str, Any],
    subjects: Sequence[Mapping[str, Any]],
    ballots: Iterable[Sequence[Mapping[str, str]]],
) -> dict[str, Any]:
    """Per subject and dimension: counts of each value, valid, abstained, void, blank, rates.

    Every returned ballot is in exactly one of an item's valid, abstained, void and blank:
    void counts the item's invalid marks and the ballots void as a whole; blank, the
    ballots that leave the item unmarked (a completely blank ballot among them).
    """
    tallied = Tallied()
    for marks in ballots:
        tallied.add(judge(policy, subjects, marks))
    return {
        "returned": tallied.returned,
        "void_ballots": tallied.void_ballots,
        "blank_ballots": tallied.blank_ballots,
        "subjects": [_subject_results(policy, subject, tallied) for subject in subjects],
    }


@dataclass
class Tallied:
    """A meeting's judged ballots, counted per item."""

    returned: int = 0
    void_ballots: int = 0
    """Ballots void as a whole: every item of them is void."""
    blank_ballots: int = 0
    counts: dict[Item, dict[str, int]] = field(default_factory=dict)
    abstained: dict[Item, int] = field(default_factory=dict)
    void_items: dict[Item, int] = field(default_factory=dict)
    marked: dict[Item, int] = field(default_factory=dict)
    """Per item, the ballots not void as a whole that mark it (validly, abstaining, void)."""

    def add(self, judgement: Judgement) -> None:
        self.returned += 1
        if judgement.void:
            self.void_ballots += 1
            return
        self.blank_ballots += judgement.blank
        for item, value in judgement.ratings.items():
            by_value = self.counts.setdefault(item, {})
            by_value[value] = by_value.get(value, 0) + 1
        for counted, items in (
            (self.abstained, judgement.abstained),
            (self.void_items, judgement.void_items),
            (self.marked, judgement.marked),
        ):
            for item in items:
                counted[item] = counted.get(item, 0) + 1

    def item(self, item: Item, values: Sequence[str]) -> dict[str, Any]:
        """An item's counts: valid + abstained + void + blank = returned."""
        by_value = {value: self.counts.get(item, {}).get(value, 0) for value in values}
        return {
            "dimension": item[1],
            "counts": by_value,
            "valid": sum(by_value.values()),
            "abstained": self.abstained.get(item, 0),
            "void": self.void_items.get(item, 0) + self.void_ballots,
            "blank": self.returned - self.void_ballots - self.marked.get(item, 0),
        }


def _subject_results(
    policy: Mapping[str, Any], subject: Mapping[str, Any], tallied: Tallied
) -> dict[str, Any]:
    kind = policy["kinds"][subject["kind"]]
    scale = policy["scales"][kind["scale"]]
    rates = policy["rates"][kind["scale"]]
    dimensions = []
    overall = dict.fromkeys(scale["values"], 0)
    for dimension in kind["dimensions"]:
        item = tallied.item((subject["id"], dimension), scale["values"])
        for value, count in item["counts"].items():
            overall[value] += count
        dimensions.append({**item, "rates": _rates(rates, item["counts"])})
    overall_rates = _rates(rates, overall)
    results = {
        "subject_id": subject["id"],
        "kind": subject["kind"],
        "name": subject["name"],
        "headline": kind["headline"],
        "dimensions": dimensions,
        "counts": overall,
        "valid": sum(overall.values()),
        "rates": overall_rates,
        "flagged": False,
    }
    if "unfit" in rates:
        numerator, denominator = policy["flag_unfit_share"]
        unfit = overall_rates["unfit"]
        results["flagged"] = (
            unfit["valid"] > 0 and unfit["favourable"] * denominator >= numerator * unfit["valid"]
        )
    return results


def _rates(
    rates: Mapping[str, Sequence[str]], counts: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    valid = sum(counts.values())
    return {
        name: rate(sum(counts[value] for value in values), valid) for name, values in rates.items()
    }


def headline_of(subject_results: Mapping[str, Any]) -> dict[str, Any]:
    headline: dict[str, Any] = subject_results["rates"][subject_results["headline"]]
    return headline


def mass_score(results: Mapping[str, Any]) -> Fraction | None:
    """A community's mass score: its committee's headline rate, as a percentage."""
    for subject in results["subjects"]:
        if subject["kind"] == "committee":
            headline = headline_of(subject)
            if headline["valid"]:
                return Fraction(headline["favourable"] * 100, headline["valid"])
    return None


def composite_grade(policy: Mapping[str, Any], mass: Fraction, superior: int) -> dict[str, Any]:
    """The 双评 composite (weights per policy) and the grade band it falls in."""
    composite = (
        mass * policy["composite"]["mass_percent"]
        + superior * policy["composite"]["superior_percent"]
    ) / 100
    grade = policy["base_grade"]
    for band in policy["grades"]:
        if composite >= band["min_score"]:
            grade = band["grade"]
            break
    return {
        "mass_score": half_up(mass),
        "superior_score": superior,
        "composite": half_up(composite),
        "grade": grade,
    }


def grade_rank(policy: Mapping[str, Any], grade: str) -> int:
    """Higher is better: the base grade is 0, each band above it one more."""
    bands = [band["grade"] for band in reversed(policy["grades"])]
    return bands.index(grade) + 1 if grade in bands else GRADE_ORDER_BASE


def movement(policy: Mapping[str, Any], previous: str | None, current: str) -> str:
    """分类晋级: promoted, demoted or kept against the previous campaign; first if none."""
    if previous is None:
        return "first"
    change = grade_rank(policy, current) - grade_rank(policy, previous)
    return "promoted" if change > 0 else "demoted" if change < 0 else "kept"


POOLS = ("committees", "secretaries", "community_services", "graduate_excellence")


def contribution(
    community: str, results: Mapping[str, Any], alert_below_percent: int
) -> dict[str, Any]:
    """What one meeting adds to its district's summary: (favourable, valid) per pool, and
    who is flagged: persons with 不称职 at the policy's share, and a community whose
    committee's headline rate falls under the policy's alert threshold."""
    pools: dict[str, list[int]] = {}
    flagged = []
    for subject in results["subjects"]:
        headline = headline_of(subject)
        if subject["kind"] == "committee":
            pools["committees"] = [headline["favourable"], headline["valid"]]
            if (
                headline["valid"]
                and headline["favourable"] * 100 < alert_below_percent * headline["valid"]
            ):
                flagged.append(
                    {
                        "community": community,
                        "subject": subject["name"],
                        "kind": "community",
                        "reason": f"{subject['headline']} {headline['percent']}% "
                        f"< {alert_below_percent}%",
                    }
                )
            services = next(
                (d for d in subject["dimensions"] if d["dimension"] == "社区服务"), None
            )
            if services is not None:
                head = services["rates"][subject["headline"]]
                pools["community_services"] = [head["favourable"], head["valid"]]
        elif subject["kind"] == "secretary":
            _add(pools, "secretaries", headline)
        elif subject["kind"] == "graduate":
            _add(pools, "graduate_excellence", subject["rates"]["excellence"])
        if subject["flagged"]:
            # The alert e-mail words every flag by its reason (`projection.alert`).
            unfit = subject["rates"]["unfit"]["percent"]
            flagged.append(
                {
                    "community": community,
                    "subject": subject["name"],
                    "kind": subject["kind"],
                    "reason": f"不称职 {unfit}% reaches the policy's share",
                }
            )
    return {"pools": pools, "flagged": flagged}


def _add(pools: dict[str, list[int]], name: str, figure: Mapping[str, int]) -> None:
    favourable, valid = pools.get(name, [0, 0])
    pools[name] = [favourable + figure["favourable"], valid + figure["valid"]]


def empty_totals() -> dict[str, Any]:
    """What the summary keeps per pool; `share_sum`, the sum of community rates in percent,
    is an exact fraction as text ("8633/6"): a decimal would cut thirds short."""
    return {
        name: {"favourable": 0, "valid": 0, "share_sum": "0", "communities": 0} for name in POOLS
    }


def fold(totals: dict[str, Any], meeting: Mapping[str, Any], sign: int) -> None:
    """Add (sign 1) or take back (sign -1) one meeting's contribution, in place."""
    for name, (favourable, valid) in meeting["pools"].items():
        total = totals[name]
        total["favourable"] += sign * favourable
        total["valid"] += sign * valid
        if valid:
            share = Fraction(favourable * 100, valid)
            # Fraction also reads the decimal text that summaries kept before they were exact.
            total["share_sum"] = str(Fraction(total["share_sum"]) + sign * share)
            total["communities"] += sign


def summary_figures(totals: Mapping[str, Any]) -> dict[str, Any]:
    """Pooled rates (sum of favourable over sum of valid) with the mean of community rates."""
    pooled = {name: rate(total["favourable"], total["valid"]) for name, total in totals.items()}
    means: dict[str, str | None] = {}
    for name, total in totals.items():
        if total["communities"]:
            means[name] = half_up(Fraction(total["share_sum"]) / total["communities"])
        else:
            means[name] = None
    return {"pooled": pooled, "mean_of_communities": means}


def district_summary(
    policy: Mapping[str, Any], meetings: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The summary of whole meetings at once (what `fold` keeps up incrementally)."""
    totals = empty_totals()
    flagged = []
    for meeting in meetings:
        part = contribution(meeting["community"], meeting["results"], policy["alert_below_percent"])
        fold(totals, part, 1)
        flagged += part["flagged"]
    return {**summary_figures(totals), "flagged": flagged}
