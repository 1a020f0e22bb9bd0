"""The one source of the current time, so that tests can fix it."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
