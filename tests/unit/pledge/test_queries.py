"""The pledge service's queries, answered from the book on an in-memory log (no servers)."""

from datetime import date

from qunping.core.schemas import load
from services.pledge import domain, queries, schemas
from tests.unit.pledge.scene import Scene


def test_units_are_listed_by_community_then_name_and_a_field_not_given_matches_any() -> None:
    scene = Scene("吉州区实验小学")
    contact = {"person": "刘主任", "phone": "0796-8221111"}
    other = domain.register_unit("吉州区", "光明社区", "吉州区人民医院", "agency", contact)
    scene.book.append_new(f"unit-{other.data['unit_id']}", other)

    everything = queries.units(scene.book, load(schemas.ListUnits(), {}))
    elsewhere = queries.units(scene.book, load(schemas.ListUnits(), {"community": "文山社区"}))

    assert [unit["name"] for unit in everything] == ["吉州区人民医院", "吉州区实验小学"]
    assert elsewhere == []


def test_pledges_are_filtered_by_every_field_given() -> None:
    scene = Scene()

    unsigned = queries.pledges(scene.book, load(schemas.ListPledges(), {"year": 2026}))
    in_force = queries.pledges(scene.book, load(schemas.ListPledges(), {"status": "in_force"}))

    assert [pledge["pledge_id"] for pledge in unsigned] == [scene.pledge_id]
    assert in_force == []


def test_an_overdue_item_is_listed_until_its_side_reports_on_it() -> None:
    scene = Scene()
    scene.sign_both()
    scene.do(lambda pledge: pledge.overdue_items(date(2026, 12, 10)))
    scene.report("unit-1", "unit")

    overdue = queries.overdue_items(scene.book, load(schemas.ListOverdue(), {}))

    assert [item["item"]["item_id"] for item in overdue] == ["community-1", "unit-2"]


def test_the_year_end_export_holds_one_row_per_pledge_of_the_district_and_year() -> None:
    scene = Scene()

    this_year = queries.year_end_export(scene.book, "吉州区", 2026, "csv")
    next_year = queries.year_end_export(scene.book, "吉州区", 2027, "csv")

    assert this_year["rows"] == 1
    assert this_year["file_name"].endswith(".csv")
    assert next_year["rows"] == 0
