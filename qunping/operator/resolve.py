"""The registry's dotted paths (`module:attribute`) as the objects they name, imported
from above the services (the registry itself, beneath them, imports none)."""

from __future__ import annotations

import importlib
from typing import TypeVar

T = TypeVar("T")


def resolve(path: str, kind: type[T]) -> T:
    """The object `path` names; TypeError if it is no `kind`."""
    module_name, attribute = path.split(":")
    found = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(found, kind):
        raise TypeError(f"{path} is a {type(found).__name__}, not a {kind.__name__}")
    return found
