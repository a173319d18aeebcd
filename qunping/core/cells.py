"""Spreadsheet cells that stay text: names chosen by users go into CSV and XLSX exports.

A cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
formula by spreadsheet programs (`=HYPERLINK("http://x","y")` in a unit's name becomes a
link, or worse, when an auditor opens the file). In CSV such text gets a leading `'`,
which spreadsheet programs show as text; in XLSX every text cell is written as a string
cell, never a formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(value) for value in values]


def append_xlsx_row(sheet: Any, values: Iterable[Any]) -> None:
    """Append `values` to an openpyxl sheet, every text a string (openpyxl would otherwise
    store text starting with `=` as a formula)."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
