"""A campaign's 双评 grades as a download: one row per community, as CSV and as XLSX.

The tally answers the grades; this only lays them out. CSV is UTF-8 with a byte-order mark,
so spreadsheet programs read the Chinese names as UTF-8. Community names come from users,
so no cell is ever a formula (qunping.core.cells).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook

from qunping.core.cells import append_xlsx_row, csv_row

GRADE_COLUMNS = (
    "community",
    "mass_score",
    "superior_score",
    "composite",
    "grade",
    "previous_grade",
    "movement",
)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
"""Per export format, its media type (the pledge service's year-end file comes in the same
two)."""


def grade_rows(grades: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Each grade's cells, in the order of `GRADE_COLUMNS` (a column it lacks is empty)."""
    return [[grade.get(column) for column in GRADE_COLUMNS] for grade in grades]


def grades_csv(grades: Sequence[Mapping[str, Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(GRADE_COLUMNS)
    writer.writerows(csv_row(row) for row in grade_rows(grades))
    return text.getvalue().encode("utf-8-sig")


def grades_xlsx(grades: Sequence[Mapping[str, Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(GRADE_COLUMNS))
    for row in grade_rows(grades):
        append_xlsx_row(sheet, row)
    data = io.BytesIO()
    workbook.save(data)
    return data.getvalue()


GRADE_WRITERS = {"csv": grades_csv, "xlsx": grades_xlsx}
"""Per export format, what lays the grades out in it."""
