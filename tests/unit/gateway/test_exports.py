"""The grades download: every grade a row, Chinese names readable, no cell a formula."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from services.gateway.exports import GRADE_COLUMNS, grades_csv, grades_xlsx

GRADES = [
    {"community": "光明社区", "mass_score": 95.9, "superior_score": 88, "composite": 92.74,
     "grade": "model", "previous_grade": None, "movement": "new"},
    {"community": "=HYPERLINK(\"http://x\",\"y\")", "mass_score": 70, "superior_score": 80,
     "composite": 74.0, "grade": "ordinary"},
]  # fmt: skip


def test_the_csv_has_a_byte_order_mark_a_header_and_a_row_per_grade() -> None:
    data = grades_csv(GRADES)

    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(GRADE_COLUMNS)
    assert rows[1] == ["光明社区", "95.9", "88", "92.74", "model", "", "new"]
    assert len(rows) == 1 + len(GRADES)


def test_a_community_name_like_a_formula_stays_text_in_the_csv_and_the_xlsx() -> None:
    rows = list(csv.reader(io.StringIO(grades_csv(GRADES).decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(grades_xlsx(GRADES))).active
    assert sheet is not None

    assert rows[2][0] == '\'=HYPERLINK("http://x","y")'
    cell = sheet["A3"]
    assert cell.data_type == "s" and cell.value == GRADES[1]["community"]


def test_the_xlsx_has_the_header_and_each_grades_values_with_missing_columns_empty() -> None:
    sheet = load_workbook(io.BytesIO(grades_xlsx(GRADES))).active
    assert sheet is not None

    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == list(GRADE_COLUMNS)
    assert values[1] == ["光明社区", 95.9, 88, 92.74, "model", None, "new"]
    assert values[2][5:] == [None, None]
