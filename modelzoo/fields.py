"""Typed fields shared by hyperparameters and recipes: checking values and parsing `key=value` text.

Both `build(name, hidden_units=256)` and `modelzoo train NAME --set hidden_units=256` end here, so a
wrong type gets the same message whichever way it came in.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from modelzoo.errors import InvalidTypeError


def type_name(tp: Any) -> str:
    """A readable name for a type hint: `int`, `tuple[str, ...]`, `int | None`."""
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def check_value(field: str, value: Any, tp: Any) -> Any:
    """Return `value` converted to the canonical form of `tp` (list -> tuple, int -> float).

    Raises InvalidTypeError naming the field and the expected type.
    """
    if _is_union(tp):
        for option in typing.get_args(tp):
            try:
                return check_value(field, value, option)
            except InvalidTypeError:
                continue
    elif tp is type(None):
        if value is None:
            return None
    elif typing.get_origin(tp) is tuple:
        (item_tp, *_) = typing.get_args(tp)
        if isinstance(value, (tuple, list)):
            return tuple(check_value(field, item, item_tp) for item in value)
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is Any or isinstance(value, tp):
        return value
    raise InvalidTypeError(f"{field!r} expects {type_name(tp)}, got {type(value).__name__} {value!r}.")


def parse_value(field: str, text: str, tp: Any) -> Any:
    """Parse command-line text into `tp`, e.g. `"0.5"` -> 0.5, `"32,64"` -> (32, 64)."""
    if _is_union(tp):
        if text.lower() == "none" and type(None) in typing.get_args(tp):
            return None
        for option in typing.get_args(tp):
            if option is not type(None):
                try:
                    return parse_value(field, text, option)
                except InvalidTypeError:
                    continue
    elif typing.get_origin(tp) is tuple:
        (item_tp, *_) = typing.get_args(tp)
        items = [part.strip() for part in text.split(",") if part.strip()]
        return tuple(parse_value(field, item, item_tp) for item in items)
    elif tp is bool:
        if text.lower() in ("true", "1", "yes", "false", "0", "no"):
            return text.lower() in ("true", "1", "yes")
    elif tp in (int, float):
        try:
            return tp(text)
        except ValueError:
            pass
    elif tp is str or tp is Any:
        return text
    raise InvalidTypeError(f"{field!r} expects {type_name(tp)}, got {text!r}.")
