"""The API's page cursors and page sizes: one format for every list."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping

from shared.errors import InvalidRequestError

DEFAULT_PAGE = 25
# A sort key of ours: "<ISO 8601 time>#<uuid>". Anything else in a cursor was not issued by this API.
_SORT_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.+\-]+#[0-9a-f\-]{36}")


def is_record_id(value: object) -> bool:
    """Whether ``value`` is an id Sampark gives out (a canonical UUID): anything else cannot name a record."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def encode_cursor(sort_key: str | None) -> str | None:
    if sort_key is None:
        return None
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        sort_key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        sort_key = ""
    if not _SORT_KEY.fullmatch(sort_key):
        raise InvalidRequestError("cursor is not one this API issued")
    return sort_key


def page_size(params: Mapping[str, str], maximum: int) -> int:
    raw = params.get("limit")
    if raw is None:
        return min(DEFAULT_PAGE, maximum)
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidRequestError(f"limit must be a whole number from 1 to {maximum}")
    return int(raw)
