"""Decoding request parameters the PHP-lenient way BaseLinker does.

Ids may come as ints or digit strings, flags as ``true``/``false``, ``0``/``1`` or
``"0"``/``"1"``; ``null`` and other types are ``ERROR_BAD_PARAMETERS``; a text over its
documented limit is ``ERROR_FIELD_TOO_LONG`` naming the field.
"""

from __future__ import annotations

import re

from .errors import ERROR_BAD_PARAMETERS, ERROR_FIELD_TOO_LONG, ApiError

_INT_TEXT = re.compile(r"-?[0-9]+")


def int_param(params: dict, name: str, *, required: bool = False) -> int | None:
    if name not in params:
        if required:
            raise ApiError(ERROR_BAD_PARAMETERS, f"Missing required parameter: {name}")
        return None
    value = params[name]
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return value
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must be an integer")


def number_param(params: dict, name: str) -> float | None:
    if name not in params:
        return None
    value = params[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must be a number")


def flag_param(params: dict, name: str, default: bool) -> bool:
    if name not in params:
        return default
    value = params[name]
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return value in (1, "1")
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must be a boolean")


def text_param(params: dict, name: str, *, required: bool = False, max_len: int | None = None) -> str | None:
    if name not in params:
        if required:
            raise ApiError(ERROR_BAD_PARAMETERS, f"Missing required parameter: {name}")
        return None
    value = params[name]
    if not isinstance(value, str):
        raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must be a string")
    if max_len is not None and len(value) > max_len:
        raise ApiError(
            ERROR_FIELD_TOO_LONG,
            f"Field {name} is too long ({len(value)} characters, max {max_len})",
        )
    return value

