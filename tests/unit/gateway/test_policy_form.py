"""The policy editor's form: what the page renders reads back as the same policy, and the
ballot service's refusals land beside the fields they concern."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from qunping.core.errors import InvalidInput
from services.ballot.policy import DEFAULT_POLICY, merged_with_defaults
from services.gateway.catalogue import CATALOGUE, explain
from services.gateway.pages import Pages
from services.gateway.policy_form import editor_rows, field_errors, policy_from_form


class FormFields(HTMLParser):
    """What a browser would submit from the page's form (checked boxes, selected options)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: MultiDict[str, str] = MultiDict()
        self._select: str | None = None
        self._selected: str | None = None
        self._first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag == "input" and name and attributes.get("type") != "checkbox":
            self.fields.add(name, attributes.get("value") or "")
        elif tag == "input" and name and "checked" in attributes:
            self.fields.add(name, attributes.get("value") or "on")
        elif tag == "select":
            self._select, self._selected, self._first = name, None, None
        elif tag == "option" and self._select:
            value = attributes.get("value") or ""
            self._first = value if self._first is None else self._first
            if "selected" in attributes:
                self._selected = value
        elif tag == "textarea":
            self._textarea = name
            self.fields.add(name or "", "")

    def handle_data(self, data: str) -> None:
        if self._textarea:
            values = self.fields.getlist(self._textarea)
            self.fields.setlist(self._textarea, [*values[:-1], values[-1] + data])

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            self.fields.add(self._select, self._selected or self._first or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def rendered_form(policy: dict[str, Any]) -> MultiDict[str, str]:
    pages = Pages(api=SimpleNamespace())  # type: ignore[arg-type]  # only its templates
    html = pages.env.get_template("campaign_new.html").render(
        t=lambda key: CATALOGUE["zh"].get(key, key),
        explain=lambda message: explain(message, "zh"),
        lang="zh",
        other_lang="en",
        path="/desk/campaigns/new",
        principal=SimpleNamespace(csrf="c", role="district_admin", username="admin"),
        policy=policy,
        rows=editor_rows(policy),
        form={},
        errors={},
    )
    parser = FormFields()
    parser.feed(html)
    return parser.fields


def refusal(policy: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(InvalidInput) as refused:
        merged_with_defaults(policy)
    messages: dict[str, Any] = refused.value.messages["policy"]
    return messages


def test_the_editor_reads_back_the_policy_it_shows() -> None:
    fields = rendered_form(DEFAULT_POLICY)

    assert merged_with_defaults(policy_from_form(fields)) == DEFAULT_POLICY


def test_a_kind_added_in_the_editor_gets_a_key_and_an_empty_row_adds_nothing() -> None:
    fields = rendered_form(DEFAULT_POLICY)
    fields["kinds.custom_a.label"] = "社区工作者"
    fields["kinds.custom_a.dimensions"] = "服务态度\r\n办事效率\r\n"
    fields["kinds.custom_a.headline"] = "satisfaction"

    policy = merged_with_defaults(policy_from_form(fields))

    assert list(policy["kinds"]) == ["committee", "secretary", "graduate", "custom_a"]
    assert policy["kinds"]["custom_a"]["dimensions"] == ["服务态度", "办事效率"]
    assert "custom_b" in editor_rows(policy)["kinds"]


def test_each_refusal_lands_beside_the_field_or_entry_it_concerns() -> None:
    policy = copy.deepcopy(DEFAULT_POLICY)
    policy["quorum"]["min_present"] = "五十"
    policy["kinds"]["graduate"]["dimensions"] = ["x"] * 21

    assert field_errors(refusal(policy), policy) == {
        "quorum.min_present": ["Not a valid integer."],
        "kinds.graduate.dimensions": ["Length must be between 1 and 20."],
    }


def test_a_rule_naming_a_kind_or_a_rate_lands_on_that_entry() -> None:
    policy = copy.deepcopy(DEFAULT_POLICY)
    policy["kinds"]["secretary"]["min"] = 3
    policy["rates"]["satisfaction"]["strict"] = ["很满意"]
    policy["composite"]["mass_percent"] = 70

    assert field_errors(refusal(policy), policy) == {
        "composite": ["mass_percent and superior_percent must add up to 100"],
        "kinds.secretary": ["min is above max"],
        "rates.satisfaction.strict": ["unknown scale value ['很满意']"],
    }
    assert explain("min is above max", "zh") == "最少人数大于最多人数"
