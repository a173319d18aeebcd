"""A unit and its pledge letter on an in-memory pledge log, for the pledge unit tests."""

from datetime import date
from typing import Any

from qunping.core.memory_eventlog import InMemoryEventLog
from services.pledge import domain
from services.pledge.book import PledgeBook
from services.pledge.domain import Pledge
from services.pledge.events import payloads

PERIOD = {
    "period_start": date(2026, 1, 1),
    "period_end": date(2026, 12, 31),
    "report_from": date(2026, 12, 1),
    "report_until": date(2026, 12, 20),
}
ITEMS = [
    {
        "side": "community",
        "title": "开放社区活动室",
        "target": "每月 4 次",
        "due_date": date(2026, 6, 30),
    },
    {
        "side": "unit",
        "title": "开放学校操场",
        "target": "每周末开放",
        "due_date": date(2026, 9, 30),
    },
    {
        "side": "unit",
        "title": "志愿服务",
        "target": "全年 200 小时",
        "due_date": date(2026, 11, 30),
    },
]
IN_WINDOW = date(2026, 12, 5)
SUBJECTS = [
    {
        "subject_id": f"{kind}-1",
        "kind": kind,
        "headline": "satisfaction",
        "rates": {
            "satisfaction": {"favourable": 9, "valid": 10, "percent": "90.00"},
            "strict": {"favourable": 5, "valid": 10, "percent": "50.00"},
        },
        "counts": {"满意": 5, "基本满意": 4, "不满意": 1},
    }
    for kind in ("pledge_community", "pledge_unit")
]


class Scene:
    """A unit and its pledge letter on an in-memory pledge log."""

    def __init__(self, unit_name: str = "吉州区实验小学") -> None:
        self.book = PledgeBook(InMemoryEventLog("pledge", payload_schemas=payloads))
        registered = domain.register_unit(
            "吉州区",
            "光明社区",
            unit_name,
            "school",
            {"person": "李老师", "phone": "0796-8220000"},
        )
        self.book.append_new(f"unit-{registered.data['unit_id']}", registered)
        self.unit = self.book.unit(registered.data["unit_id"])
        drafted = domain.draft_pledge(self.unit, 2026, PERIOD, ITEMS)
        self.pledge_id = drafted.data["pledge_id"]
        self.book.append_new(f"pledge-{self.pledge_id}", drafted)

    @property
    def pledge(self) -> Pledge:
        return self.book.pledge(self.pledge_id)

    def do(self, decision: Any) -> list[Any]:
        return self.book.decide(self.pledge_id, decision)

    def sign_both(self, version: int = 1) -> None:
        self.do(lambda p: p.sign(version, "community", "王书记"))
        self.do(lambda p: p.sign(version, "unit", "张校长"))

    def report(self, item_id: str, side: str, status: str = "done", today: date = IN_WINDOW) -> Any:
        content = {
            "item_id": item_id,
            "side": side,
            "status": status,
            "evidence": "台账",
            "links": [],
        }
        return self.do(lambda p: [p.report(content, today)])
