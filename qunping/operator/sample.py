"""The sample district: 吉州区's first pilot batch, voted ballot by ballot through the services.

The reported outcome (docs/architecture.md#the-job) was: satisfaction with the committees
95.94%, with the
party secretaries 96%, with community services 97%, excellence of graduate cadres 96.5%.
Here 15 communities of 60 representatives each cast 900 generated ballots whose pooled
figures are exactly those, computed by the real tally from raw ballots:

    committees (6 dimensions)      4,797 favourable of 5,000 valid (400 不了解 abstain)
    community services (社区服务)     873 of 900
    secretaries (优秀 + 称职)        4,320 of 4,500
    graduate cadres (优秀)          3,474 of 3,600 (10 communities have one)

The values are dealt from exact multisets by a seeded shuffle: the same ballots every run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qunping.core.roles import ASSESSOR, ORGANISER, SCRUTINEER
from services.ballot.policy import DEFAULT_POLICY

VOTERS = 60
SEED = 20111012

COMMUNITIES = [
    ("光明社区", "古南街道", "陈建华", "刘晓燕"),
    ("太平桥社区", "古南街道", "王德明", "张丽"),
    ("文山社区", "文山街道", "李国平", "赵敏"),
    ("白塘社区", "白塘街道", "周志刚", "孙婷"),
    ("北门社区", "北门街道", "吴振华", "钱芳"),
    ("习溪桥社区", "古南街道", "郑春生", "冯雪"),
    ("永叔社区", "永叔街道", "胡正东", "何静"),
    ("白鹭洲社区", "白塘街道", "郭文斌", "林娜"),
    ("沿江社区", "古南街道", "高建国", "罗佳"),
    ("城南社区", "永叔街道", "梁志明", "宋雨"),
    ("长塘社区", "文山街道", "谢永红", None),
    ("樟山社区", "北门街道", "韩立新", None),
    ("兴桥社区", "永叔街道", "唐海波", None),
    ("禾埠社区", "白塘街道", "冯国强", None),
    ("曲濑社区", "文山街道", "邓家荣", None),
]
SUPERIOR_SCORES = [96, 92, 88, 85, 90, 78, 94, 83, 91, 87, 72, 89, 95, 80, 86]

COMMITTEE_OTHER = ["卫生", "文化", "治安", "环境", "总体评价"]
SECRETARY = ["德", "能", "勤", "绩", "廉"]
GRADUATE = ["政治素养", "工作能力", "出勤出工", "工作实绩", "工作作风", "参加培训"]


def dealt(chance: random.Random, pool: dict[str, int]) -> Iterator[str]:
    values = [value for value, count in pool.items() for _ in range(count)]
    chance.shuffle(values)
    return iter(values)


@dataclass(frozen=True)
class Ballots:
    """Every community's 60 ballots, as lists of marks."""

    by_community: list[list[list[dict[str, str]]]]


def sample_ballots() -> Ballots:
    chance = random.Random(SEED)
    total = VOTERS * len(COMMUNITIES)
    graduates = sum(1 for *_, graduate in COMMUNITIES if graduate)
    services = dealt(chance, {"满意": 700, "基本满意": 173, "不满意": 27})
    others = dealt(chance, {"满意": 3100, "基本满意": 824, "不满意": 176, "不了解": 400})
    secretary = dealt(chance, {"优秀": 3000, "称职": 1320, "基本称职": 150, "不称职": 30})
    graduate = dealt(chance, {"优秀": 3474, "称职": 100, "基本称职": 20, "不称职": 6})
    assert total * 5 == 4500 and graduates * VOTERS * 6 == 3600
    by_community = []
    for _name, _street, _secretary, graduate_name in COMMUNITIES:
        ballots = []
        for _ in range(VOTERS):
            marks = [{"subject": "committee-1", "dimension": "社区服务", "value": next(services)}]
            marks += [
                {"subject": "committee-1", "dimension": d, "value": next(others)}
                for d in COMMITTEE_OTHER
            ]
            marks += [
                {"subject": "secretary-1", "dimension": d, "value": next(secretary)}
                for d in SECRETARY
            ]
            if graduate_name:
                marks += [
                    {"subject": "graduate-1", "dimension": d, "value": next(graduate)}
                    for d in GRADUATE
                ]
            ballots.append(marks)
        by_community.append(ballots)
    return Ballots(by_community)


def staff_of(community: str) -> dict[str, dict[str, Any]]:
    """The sample's acting accounts: the community's organiser, the street's scrutineer
    (监票人) and the district's assessor, as the gateway would pass them."""
    return {
        "organiser": {"username": f"{community}组织员", "role": ORGANISER, "community": community},
        "scrutineer": {"username": "街道监票人", "role": SCRUTINEER, "community": None},
        "assessor": {"username": "区委组织部考评员", "role": ASSESSOR, "community": None},
    }


def load_sample(ballot: Any, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Run the whole batch through the ballot service (an RPC proxy); return the ids."""
    campaign = ballot.create_campaign(
        {"district": "吉州区", "year": 2011, "batch": "第一批试点社区"}
    )
    campaign_id = campaign["campaign_id"]
    ballots = sample_ballots()
    meetings = []
    for index, (community, street, secretary, graduate) in enumerate(COMMUNITIES):
        subjects = [{"kind": "committee"}, {"kind": "secretary", "name": secretary}]
        if graduate:
            subjects.append({"kind": "graduate", "name": graduate})
        staff = staff_of(community)
        meeting_id = ballot.schedule_meeting(
            {
                "campaign_id": campaign_id,
                "community": community,
                "street": street,
                "starts_at": f"2011-10-{10 + index % 15:02d}T09:00:00+08:00",
                "place": f"{community}居委会会议室",
                "expected_participants": VOTERS,
                "subjects": subjects,
                "actor": staff["organiser"],
            }
        )["meeting_id"]
        ballot.record_report(
            {
                "meeting_id": meeting_id,
                "subject_id": "secretary-1",
                "text": f"{secretary}同志2011年度述职报告。",
                "actor": staff["organiser"],
            }
        )
        checking_in = [
            ballot.check_in.call_async(
                {
                    "meeting_id": meeting_id,
                    "name": f"{community}代表{n + 1:02d}",
                    "category": "resident" if n % 5 else "party_member",
                    "actor": staff["organiser"],
                }
            )
            for n in range(VOTERS)
        ]
        for reply in checking_in:
            reply.result()
        tokens = ballot.issue_tokens(
            {"meeting_id": meeting_id, "count": VOTERS, "actor": staff["organiser"]}
        )["tokens"]
        ballot.open_voting({"meeting_id": meeting_id, "actor": staff["scrutineer"]})
        pending = [
            ballot.cast_ballot.call_async(
                {"meeting_id": meeting_id, "token": token, "marks": marks}
            )
            for token, marks in zip(tokens, ballots.by_community[index], strict=True)
        ]
        for reply in pending:
            reply.result()
        ballot.close_voting({"meeting_id": meeting_id, "actor": staff["scrutineer"]})
        ballot.record_assessment(
            {
                "campaign_id": campaign_id,
                "community": community,
                "score": SUPERIOR_SCORES[index],
                "assessor": "吉州区委组织部",
                "basis": "2011年度社区工作上级考评",
                "actor": staff["assessor"],
            }
        )
        meetings.append(meeting_id)
        progress(f"{community}: {VOTERS} ballots cast, voting closed")
    return {"campaign_id": campaign_id, "meetings": meetings}


def first_run(
    cluster: Any, marker: Path, say: Callable[[str], None], seconds: float = 600
) -> dict[str, Any] | None:
    """What `qunping run` does once the services answer: load the sample district the first
    time (its campaign id kept in `marker`), wait until the tally has counted every meeting
    and graded every community, and print the district summary. Returns the summary."""
    campaign_id = marker.read_text().strip() if marker.exists() else None
    if campaign_id is None:
        say(f"Loading the sample district through the services ({len(COMMUNITIES) * VOTERS} "
            "ballots)...")  # fmt: skip
        campaign_id = load_sample(cluster.ballot, say)["campaign_id"]
        marker.write_text(campaign_id)
    summary = counted_summary(cluster.tally, campaign_id, say, seconds)
    if summary is None:
        say(f"The tally has not counted every sample meeting after {seconds:g} s; see its log.")
        return None
    for line in summary_lines(summary, campaign_id):
        say(line)
    return summary


def counted_summary(
    tally: Any, campaign_id: str, say: Callable[[str], None], seconds: float
) -> dict[str, Any] | None:
    """The campaign's summary once it holds every sample meeting's results and every
    community's grade: before that its figures are of the meetings counted so far."""
    from qunping.core.errors import NotFound

    deadline = time.monotonic() + seconds
    told = time.monotonic()
    while time.monotonic() < deadline:
        try:
            summary: dict[str, Any] = tally.summary({"campaign_id": campaign_id})
        except NotFound:
            summary = {"meetings": 0, "grades": {}}
        graded = sum(summary["grades"].values())
        if summary["meetings"] == len(COMMUNITIES) and graded == len(COMMUNITIES):
            return summary
        if time.monotonic() - told > 10:
            say(f"  the tally has counted {summary['meetings']} of {len(COMMUNITIES)} meetings "
                f"and graded {graded}; waiting")  # fmt: skip
            told = time.monotonic()
        time.sleep(0.5)
    return None


LABELS = {
    "committees": "满意率 社区两委班子",
    "secretaries": "满意率 党支部书记",
    "community_services": "满意率 社区服务",
    "graduate_excellence": "优秀率 选聘生",
}


def summary_lines(summary: dict[str, Any], campaign_id: str) -> list[str]:
    lines = [f"\n{summary['district']} {summary['year']} {summary['batch']}: "
             f"{summary['meetings']} meetings"]  # fmt: skip
    for name, label in LABELS.items():
        pooled = summary["pooled"][name]
        mean = summary["mean_of_communities"][name]
        counts = f"{pooled['favourable']}/{pooled['valid']}"
        lines.append(
            f"  {label:<14} {pooled['percent']:>6}%  ({counts}; mean of communities {mean}%)"
        )
    bands = [band["grade"] for band in DEFAULT_POLICY["grades"]] + [DEFAULT_POLICY["base_grade"]]
    rank = {grade: place for place, grade in enumerate(bands)}
    grades = sorted(summary["grades"].items(), key=lambda item: rank.get(item[0], len(rank)))
    lines.append("  双评 grades: " + ", ".join(f"{grade} {count}" for grade, count in grades))
    lines.append(f"  campaign id {campaign_id}; query with: qunping show summary {campaign_id}\n")
    return lines
