"""Strict input types: every string and blob a client sends is bounded and clean.

NUL and other control characters are refused at the edge: PostgreSQL rejects NUL in
text, and control characters have no business in names shown on a dashboard.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_JSON_DEPTH = 8


def _clean_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("line breaks are not allowed")
    return _clean_text(value)


def Name(max_length: int = 100) -> Any:  # noqa: N802 - reads as a type in annotations
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        AfterValidator(_single_line),
    ]


def OptionalText(max_length: int) -> Any:  # noqa: N802
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_single_line)]


Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]


def _check_labels(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 32:
        raise ValueError("at most 32 labels")
    for key, item in value.items():
        if not re.fullmatch(r"[a-z][a-z0-9_.-]{0,63}", key):
            raise ValueError("label keys must match ^[a-z][a-z0-9_.-]{0,63}$")
        if len(item) > 128:
            raise ValueError("label values are at most 128 characters")
        _single_line(item)
    return value


Labels = Annotated[dict[str, str], AfterValidator(_check_labels)]


def _walk(value: Any, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        _clean_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise ValueError("integers must fit in 64 bits")
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean_text(key)
            _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1)


def BoundedJSON(max_bytes: int) -> Any:  # noqa: N802
    """A free-form JSON object, bounded in size and depth, with clean strings."""

    def check(value: dict[str, Any]) -> dict[str, Any]:
        _walk(value, 1)
        if len(json.dumps(value, separators=(",", ":"))) > max_bytes:
            raise ValueError(f"larger than {max_bytes} bytes")
        return value

    return Annotated[dict[str, Any], AfterValidator(check)]
