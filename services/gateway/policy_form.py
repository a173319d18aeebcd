"""The policy editor's form: a scoring policy to and from form fields, and the ballot
service's refusal of it put back beside the fields it concerns.

The form only carries values across; whether a policy makes sense is decided by the
ballot service (`services/ballot/policy.py`), which the page calls as the API does, so the
editor and the API refuse the same policies with the same messages.

Field names are the policy's paths: `quorum.min_present`, `kinds.committee.dimensions`,
`grades.0.min_score`. Lists of labels are typed one per line (dimensions) or separated by
`、`, commas or spaces (scale values).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

GRADE_ROWS = 5
"""Grade bands the editor offers (the policy allows up to five)."""
NEW_KIND_KEYS = tuple(f"custom_{letter}" for letter in string.ascii_lowercase)
"""Keys given to kinds added in the editor: officials name kinds by their label only."""
WORDS = re.compile(r"[、，,;；\s]+")
INTEGER = re.compile(r"-?\d{1,9}")


def words(text: str) -> list[str]:
    return [word for word in WORDS.split(text.strip()) if word]


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def number(text: str) -> int | str:
    """An integer if the text is one; otherwise the text, for the policy schema to refuse."""
    return int(text.strip()) if INTEGER.fullmatch(text.strip()) else text.strip()


def new_kind_key(kinds: Iterable[str]) -> str:
    taken = set(kinds)
    return next(key for key in NEW_KIND_KEYS if key not in taken)


def editor_rows(policy: Mapping[str, Any]) -> dict[str, Any]:
    """What the editor shows for a policy: its kinds plus one empty row to add a kind, and
    its grade bands padded with empty rows."""
    blank_kind: dict[str, Any] = {
        "label": "",
        "scale": next(iter(policy["scales"]), ""),
        "headline": "",
        "dimensions": [],
        "named": True,
        "min": 0,
        "max": 1,
    }
    kinds = {**policy["kinds"], new_kind_key(policy["kinds"]): blank_kind}
    bands = list(policy["grades"])[:GRADE_ROWS]
    bands += [{"grade": "", "min_score": ""}] * (GRADE_ROWS - len(bands))
    return {"kinds": kinds, "grades": bands}


def policy_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The policy the form states, values as typed (numbers as integers where they are);
    empty grade rows and kind rows are left out."""
    scales = {
        key: {
            "values": words(form.get(f"scales.{key}.values", "")),
            "abstain": words(form.get(f"scales.{key}.abstain", "")),
        }
        for key in form.getlist("scale")
    }
    rates: dict[str, dict[str, list[str]]] = {key: {} for key in scales}
    for name, value in form.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "rates" and parts[1] in rates:
            rates[parts[1]][parts[2]] = words(value)
    kinds = {}
    for key in form.getlist("kind"):
        field = f"kinds.{key}"
        label = form.get(f"{field}.label", "").strip()
        dimensions = lines(form.get(f"{field}.dimensions", ""))
        if form.get(f"{field}.remove") or (not label and not dimensions):
            continue
        kinds[key] = {
            "label": label,
            "scale": form.get(f"{field}.scale", ""),
            "headline": form.get(f"{field}.headline", ""),
            "dimensions": dimensions,
            "named": bool(form.get(f"{field}.named")),
            "min": number(form.get(f"{field}.min", "")),
            "max": number(form.get(f"{field}.max", "")),
        }
    resident_share = form.get("quorum.min_resident_percent", "").strip()
    bands = [
        (form.get(f"grades.{row}.grade", "").strip(), form.get(f"grades.{row}.min_score", ""))
        for row in range(GRADE_ROWS)
    ]
    return {
        "scales": scales,
        "rates": rates,
        "kinds": kinds,
        "quorum": {
            "min_present": number(form.get("quorum.min_present", "")),
            "min_resident_percent": number(resident_share) if resident_share else None,
        },
        "invalid_mark_voids": form.get("invalid_mark_voids", ""),
        "composite": {
            "mass_percent": number(form.get("composite.mass_percent", "")),
            "superior_percent": number(form.get("composite.superior_percent", "")),
        },
        "grades": [
            {"grade": grade, "min_score": number(score)}
            for grade, score in bands
            if grade or score.strip()
        ],
        "base_grade": form.get("base_grade", "").strip(),
        "flag_unfit_share": [
            number(form.get("flag_unfit_share.0", "")),
            number(form.get("flag_unfit_share.1", "")),
        ],
        "alert_below_percent": number(form.get("alert_below_percent", "")),
    }


def field_errors(messages: Mapping[str, Any], policy: Mapping[str, Any]) -> dict[str, list[str]]:
    """The ballot service's messages on a policy, by the form field (or section) they
    concern: `{"quorum": {"min_present": [...]}}` becomes `{"quorum.min_present": [...]}`.

    A rule about one kind, scale or rate words its message `name: ...` (`scale.rate: ...`);
    such a message goes to that entry's fields. The editor shows the policy's grade bands
    first, so band `n` of the policy is row `n` of the form.
    """
    found: dict[str, list[str]] = {}
    for path, message in _flatten(messages, ()):
        parts, text = list(path), message
        named, _, rest = message.partition(": ")
        if len(parts) == 1 and rest:
            owner = _owner(parts[0], named.split("."), policy)
            if owner:
                parts, text = owner, rest
        found.setdefault(".".join(parts), []).append(text)
    return found


def _owner(section: str, named: list[str], policy: Mapping[str, Any]) -> list[str]:
    """The entry of `section` a rule's message names, if it names one the policy has."""
    if section in ("kinds", "scales") and len(named) == 1 and named[0] in policy[section]:
        return [section, named[0]]
    if section == "rates" and named[0] in policy["rates"]:
        if len(named) == 2 and named[1] in policy["rates"][named[0]]:
            return ["rates", *named]
        return ["scales", named[0]]
    return []


def _flatten(messages: Any, path: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], str]]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            # A dict field's errors say whether a key or its value is wrong: either way,
            # the entry named by the key is.
            step = () if str(key) in ("value", "key") and path else (str(key),)
            yield from _flatten(value, path + step)
    elif isinstance(messages, list | tuple):
        for message in messages:
            if isinstance(message, Mapping | list | tuple):
                yield from _flatten(message, path)
            else:
                yield path, str(message)
    else:
        yield path, str(messages)
