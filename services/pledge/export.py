"""The year-end assessment export (年终考核): one row per pledge, as CSV and as XLSX.

`rows` is a pure function of the pledges' details; the two writers only lay the rows out.
CSV is UTF-8 with a byte-order mark, which Excel on Chinese Windows needs to read it as
UTF-8 rather than GBK. Names come from users, so no cell is ever a formula
(qunping.core.cells).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from qunping.core.cells import append_xlsx_row, csv_row
from services.pledge.domain import SIDES

STATUS_LABELS = {
    "awaiting_signatures": "待签署",
    "in_force": "已生效",
    "in_force_amendment_pending": "已生效（修订待签署）",
    "under_evaluation": "测评中",
    "evaluated": "已测评",
}
SIDE_LABELS = {"community": "社区", "unit": "单位"}
PER_SIDE = [
    ("items", "承诺事项"),
    ("done", "已完成"),
    ("partly", "部分完成"),
    ("not_done", "未完成"),
    ("unreported", "未报告"),
    ("overdue", "逾期"),
    ("satisfaction", "满意率(%)"),
    ("valid", "有效票"),
]
COLUMNS = [
    ("year", "年度"),
    ("district", "区县"),
    ("community", "社区"),
    ("unit", "驻区单位"),
    ("unit_kind", "单位类别"),
    ("pledge_id", "承诺书编号"),
    ("in_force_version", "生效版本"),
    ("status", "状态"),
    *[
        (f"{side}_{key}", f"{SIDE_LABELS[side]}{label}")
        for side in SIDES
        for key, label in PER_SIDE
    ],
    ("meeting_id", "测评会编号"),
]
PERCENT_COLUMNS = {f"{side}_satisfaction" for side in SIDES}
WIDTHS = {"pledge_id": 18, "meeting_id": 18, "community": 14, "unit": 22, "district": 10}


def rows(
    details: Sequence[Mapping[str, Any]], unit_kinds: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One row per pledge detail, ordered by community then unit."""
    table = []
    for detail in sorted(details, key=lambda d: (d["community"], d["unit"], d["pledge_id"])):
        evaluation = detail["evaluation"]
        results = evaluation["results"] if evaluation else None
        row: dict[str, Any] = {
            "year": detail["year"],
            "district": detail["district"],
            "community": detail["community"],
            "unit": detail["unit"],
            "unit_kind": unit_kinds.get(detail["unit_id"], ""),
            "pledge_id": detail["pledge_id"],
            "in_force_version": detail["in_force_version"],
            "status": STATUS_LABELS[detail["status"]],
            "meeting_id": evaluation["meeting_id"] if evaluation else None,
        }
        for side in SIDES:
            counts = detail["fulfilment"][side]
            for key in ("items", "done", "partly", "not_done", "unreported"):
                row[f"{side}_{key}"] = counts[key]
            row[f"{side}_overdue"] = sum(
                1 for item_id in detail["overdue"] if item_id.startswith(f"{side}-")
            )
            rate = results[side]["satisfaction"] if results else None
            row[f"{side}_satisfaction"] = rate["percent"] if rate else None
            row[f"{side}_valid"] = rate["valid"] if rate else None
        table.append(row)
    return table


def to_csv(table: Sequence[Mapping[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _, label in COLUMNS])
    for row in table:
        writer.writerow(csv_row("" if row[key] is None else row[key] for key, _ in COLUMNS))
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(table: Sequence[Mapping[str, Any]], title: str) -> bytes:
    """A sheet with a header row, frozen below it, columns wide enough for their text."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]  # Excel's limit on sheet names
    sheet.append([label for _, label in COLUMNS])
    for row in table:
        append_xlsx_row(sheet, (_cell(key, row[key]) for key, _ in COLUMNS))
    for index, (key, label) in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = WIDTHS.get(key, max(8, 2 * len(label) + 2))
        if key in PERCENT_COLUMNS:
            for cell in sheet[letter][1:]:
                cell.number_format = "0.00"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell(key: str, value: Any) -> Any:
    """Percentages as numbers in the sheet (the text keeps two decimals in the CSV)."""
    return float(value) if key in PERCENT_COLUMNS and value is not None else value


def file_name(district: str, year: int, extension: str) -> str:
    return f"{district}-{year}-双诺双述双评年终考核.{extension}"
