"""Defensive readers for platform JSON, shared by the adapters: a wrong type reads as absent, never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.errors import MalformedPayloadError

_MILLISECONDS_THRESHOLD = 10**12  # any epoch in milliseconds since 2001 is above it; in seconds, below


def load_json(raw_body: bytes, what: str = "body") -> Any:
    try:
        return json.loads(raw_body)
    except ValueError as error:
        raise MalformedPayloadError(f"{what} is not JSON") from error


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def listed(container: dict[str, Any], key: str, ignored: list[str]) -> list[Any]:
    """The list under ``key``: absent is empty; anything but a list is counted in ``ignored`` as malformed."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        ignored.append("malformed")
        return []
    return value


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def epoch_datetime(value: Any) -> datetime | None:
    """Unix seconds or milliseconds (platforms mix them up: courier parseTimestamp), as number or digit string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = int(value)
    except (OverflowError, ValueError):
        return None
    if number <= 0:
        return None
    if number >= _MILLISECONDS_THRESHOLD:
        number //= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
