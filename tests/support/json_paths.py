"""Where a fail-closed test may change a valid JSON document (every path to a value in
it), and the document with one of those values replaced."""

from __future__ import annotations

import copy
from typing import Any


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and list indexes) to a value nested in ``value``, parents first;
    the document itself (the empty path) is not one."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += json_paths(v, (*prefix, i))
    return out


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any | None:
    """A deep copy of ``doc`` with the value at ``path`` set to ``value``, or None where it
    holds that value already (nothing would change)."""
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    if target[path[-1]] == value:
        return None
    target[path[-1]] = value
    return out
