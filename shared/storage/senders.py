"""Per-sender message counters: atomic (DynamoDB ADD), one item per fixed window, expiring by TTL."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from shared.domain import Channel, SenderRate
from shared.errors import StorageUnavailableError
from shared.storage import models
from shared.storage.models import RateItem
from shared.storage.transactions import is_condition_failure


def _key(pseudonym: str, channel: Channel, window_start: int) -> RateItem:
    return RateItem(pk=f"SENDER#{pseudonym}", sk=f"RATE#{channel}#{window_start}")


def count_message(pseudonym: str, channel: Channel, window_start: int, window_seconds: int) -> int:
    """Add one message to the sender's window and return the new count (atomic under concurrency)."""
    return count_once(_key(pseudonym, channel, window_start), window_start, window_seconds)


def count_once(item: RateItem, window_start: int, window_seconds: int) -> int:
    """Add one to the counter item of a fixed window (expiring after the next one); the new count."""
    models.bind()
    expires = datetime.fromtimestamp(window_start + 2 * window_seconds, tz=UTC)
    try:
        item.update(actions=[RateItem.count.add(1), RateItem.expires_at.set(expires)])
    except UpdateError as error:
        raise StorageUnavailableError("could not count the request") from error
    return int(item.count)


def current_rate(pseudonym: str, channel: Channel, window_start: int) -> SenderRate:
    models.bind()
    try:
        item = RateItem.get(f"SENDER#{pseudonym}", f"RATE#{channel}#{window_start}", consistent_read=True)
    except RateItem.DoesNotExist:
        return SenderRate(count=0, notice_sent=False)
    return SenderRate(count=int(item.count), notice_sent=bool(item.notice_sent))


def claim_limit_notice(pseudonym: str, channel: Channel, window_start: int, window_seconds: int) -> bool:
    """True for exactly one caller per window: the one that may tell the sender about the limit."""
    models.bind()
    expires = datetime.fromtimestamp(window_start + 2 * window_seconds, tz=UTC)
    try:
        _key(pseudonym, channel, window_start).update(
            actions=[RateItem.notice_sent.set(True), RateItem.expires_at.set(expires)],
            condition=RateItem.notice_sent.does_not_exist(),
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not claim the limit notice") from error
    return True
