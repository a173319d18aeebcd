"""The year-end export as pure functions over pledge details."""

import csv
import io

import openpyxl
import pytest

from qunping.core import cells
from services.pledge import export
from services.pledge.domain import PLEDGE_STATUSES
from tests.unit.pledge.scene import Scene


def test_an_unsigned_pledge_is_exported_with_every_item_unreported_and_no_evaluation() -> None:
    scene = Scene()
    [row] = export.rows([scene.pledge.detail()], {scene.unit.unit_id: "school"})

    assert row["status"] == "待签署"
    assert (row["unit_kind"], row["in_force_version"], row["meeting_id"]) == ("school", None, None)
    assert (row["community_items"], row["community_unreported"]) == (1, 1)
    assert (row["unit_items"], row["unit_unreported"], row["unit_satisfaction"]) == (2, 2, None)


def test_the_csv_starts_with_a_bom_and_leaves_missing_figures_empty() -> None:
    scene = Scene()
    content = export.to_csv(export.rows([scene.pledge.detail()], {}))

    assert content.startswith("\ufeff年度,区县,社区".encode())
    assert content.decode("utf-8-sig").splitlines()[1].endswith(",,,")  # unit rate, valid, meeting


def test_the_sheet_has_a_header_row_frozen_panes_and_widths() -> None:
    scene = Scene()
    content = export.to_xlsx(export.rows([scene.pledge.detail()], {}), "2026年终考核")

    sheet = openpyxl.load_workbook(io.BytesIO(content))["2026年终考核"]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].value == "年度" and sheet["A2"].value == 2026
    assert sheet.column_dimensions["D"].width == 22  # the unit's name
    assert sheet.max_row == 2


def test_every_pledge_status_has_a_label_in_the_export() -> None:
    assert set(export.STATUS_LABELS) == set(PLEDGE_STATUSES)


FORMULA = '=HYPERLINK("http://x","y")'


def test_a_unit_named_like_a_formula_is_text_in_the_csv_and_the_sheet() -> None:
    table = export.rows([Scene(unit_name=FORMULA).pledge.detail()], {})

    [_, line] = export.to_csv(table).decode("utf-8-sig").splitlines()
    [row] = csv.reader([line])
    assert row[3] == "'" + FORMULA
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in line  # a quoted field
    sheet = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(table, "t"))).active
    assert sheet is not None
    assert (sheet["D2"].value, sheet["D2"].data_type) == (FORMULA, "s")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised_and_numbers_are_left_alone(start: str) -> None:
    assert cells.csv_cell(f"{start}1+1") == f"'{start}1+1"
    assert cells.csv_cell(-3) == -3 and cells.csv_cell("光明社区") == "光明社区"
