"""Broadcasts in the tips table: the record, its Idempotency-Key, and one item per topic it publishes to.

A topic's publish is claimed (a conditional write with a lease) before SNS is called and marked with SNS's message id
after: two senders never publish to the same topic at once, and a retry only repeats a publish whose sender died
between its claim and its mark (SNS Publish to a topic has no idempotency token).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, GetError, QueryError, UpdateError

from shared.domain import Broadcast, BroadcastStatus
from shared.errors import StorageUnavailableError
from shared.storage import models
from shared.storage.models import BroadcastItem, BroadcastTopicItem, IdempotencyItem, PublishedMessageItem
from shared.storage.transactions import ConditionFailedError, commit, is_condition_failure


class KeyUsedError(Exception):
    """The supervisor's Idempotency-Key already created a broadcast."""

    def __init__(self, broadcast_id: str, request_hash: str) -> None:
        super().__init__(broadcast_id)
        self.broadcast_id = broadcast_id
        self.request_hash = request_hash


def _pk(broadcast_id: str) -> str:
    return f"BROADCAST#{broadcast_id}"


def create(broadcast: Broadcast, key_pk: str, request_hash: str) -> None:
    """The broadcast and its key in one transaction; KeyUsedError if the key was used before (even a moment ago)."""
    models.bind()
    item = _item(broadcast)
    key = IdempotencyItem(pk=key_pk, broadcast_id=broadcast.broadcast_id, request_hash=request_hash)
    try:
        commit(
            [
                ("key", lambda tx: tx.save(key, condition=IdempotencyItem.pk.does_not_exist())),
                ("broadcast", lambda tx: tx.save(item, condition=BroadcastItem.pk.does_not_exist())),
            ]
        )
    except ConditionFailedError as error:
        if error.operation != "key":
            raise StorageUnavailableError("could not store the broadcast") from error
        existing = IdempotencyItem.get(key_pk, "IDEMPOTENCY", consistent_read=True)
        raise KeyUsedError(existing.broadcast_id, existing.request_hash) from None


def find_key(key_pk: str) -> KeyUsedError | None:
    """The broadcast a supervisor's key created, if it was used (as the error ``create`` would raise)."""
    models.bind()
    try:
        existing = IdempotencyItem.get(key_pk, "IDEMPOTENCY", consistent_read=True)
    except DoesNotExist:
        return None
    except GetError as error:
        raise StorageUnavailableError("could not read the idempotency key") from error
    return KeyUsedError(existing.broadcast_id, existing.request_hash)


def get(broadcast_id: str) -> Broadcast | None:
    models.bind()
    try:
        item = BroadcastItem.get(_pk(broadcast_id), "BROADCAST", consistent_read=True)
        topics = list(BroadcastTopicItem.query(_pk(broadcast_id), BroadcastTopicItem.sk.startswith("TOPIC#")))
    except DoesNotExist:
        return None
    except (GetError, QueryError) as error:
        raise StorageUnavailableError("could not read the broadcast") from error
    published = tuple((t.sk.removeprefix("TOPIC#"), t.message_id) for t in topics if t.message_id)
    delivered = sum(int(t.delivered or 0) for t in topics)
    failed = sum(int(t.failed or 0) for t in topics)
    return replace(_broadcast(item, published), delivered=delivered, failed=failed)


def list_recent(limit: int) -> list[Broadcast]:
    """The newest broadcasts first (without their per-topic message ids: GET /broadcasts/{id} has them)."""
    models.bind()
    try:
        items = BroadcastItem.by_listing.query("BROADCAST", scan_index_forward=False, limit=limit)
        return [_broadcast(item, ()) for item in items]
    except QueryError as error:
        raise StorageUnavailableError("could not list broadcasts") from error


def set_status(broadcast_id: str, status: BroadcastStatus, expected: BroadcastStatus, at: datetime, **fields) -> bool:
    """Move the broadcast from ``expected`` to ``status`` (with approver or problem fields); False if it was not
    in ``expected`` any more."""
    models.bind()
    actions = [BroadcastItem.broadcast_status.set(str(status))]
    actions += [getattr(BroadcastItem, name).set(value) for name, value in fields.items()]
    if status in (BroadcastStatus.SENT, BroadcastStatus.CANCELLED):
        actions.append(BroadcastItem.finished_at.set(at))
    try:
        BroadcastItem(pk=_pk(broadcast_id)).update(
            actions=actions, condition=BroadcastItem.broadcast_status == str(expected)
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not change the broadcast") from error
    return True


def claim_topic(broadcast_id: str, topic: str, now: int, lease_seconds: int) -> bool:
    """Take the publish to ``topic``: not published yet, and nobody else's claim is running."""
    models.bind()
    item = BroadcastTopicItem(pk=_pk(broadcast_id), sk=f"TOPIC#{topic}")
    free = BroadcastTopicItem.message_id.does_not_exist() & (
        BroadcastTopicItem.claimed_until.does_not_exist() | (BroadcastTopicItem.claimed_until < now)
    )
    try:
        item.update(actions=[BroadcastTopicItem.claimed_until.set(now + lease_seconds)], condition=free)
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not claim the topic") from error
    return True


def mark_published(broadcast_id: str, topic: str, message_id: str, at: datetime) -> None:
    """The topic's publish is done; its message id also leads back to it from SNS's delivery-status logs."""
    models.bind()
    topic_item = BroadcastTopicItem(pk=_pk(broadcast_id), sk=f"TOPIC#{topic}")
    by_message = PublishedMessageItem(pk=f"SNSMSG#{message_id}", broadcast_id=broadcast_id, topic=topic)
    actions = [BroadcastTopicItem.message_id.set(message_id), BroadcastTopicItem.published_at.set(at)]
    try:
        commit(
            [("message", lambda tx: tx.save(by_message)), ("topic", lambda tx: tx.update(topic_item, actions=actions))]
        )
    except ConditionFailedError as error:
        raise StorageUnavailableError("could not record the publish") from error


def count_deliveries(counts: dict[str, tuple[int, int]]) -> int:
    """Add (delivered, failed) per SNS message id to its broadcast topic; how many ids were broadcasts' publishes
    (the others, one-time codes and replies, are not counted anywhere)."""
    models.bind()
    counted = 0
    for message_id, (delivered, failed) in counts.items():
        try:
            published = PublishedMessageItem.get(f"SNSMSG#{message_id}", "SNSMSG")
        except DoesNotExist:
            continue
        item = BroadcastTopicItem(pk=_pk(published.broadcast_id), sk=f"TOPIC#{published.topic}")
        try:
            item.update(
                actions=[BroadcastTopicItem.delivered.add(delivered), BroadcastTopicItem.failed.add(failed)],
                condition=BroadcastTopicItem.message_id == message_id,
            )
        except UpdateError as error:
            raise StorageUnavailableError("could not count the deliveries") from error
        counted += 1
    return counted


def _item(broadcast: Broadcast) -> BroadcastItem:
    return BroadcastItem(
        pk=_pk(broadcast.broadcast_id),
        broadcast_id=broadcast.broadcast_id,
        broadcast_status=str(broadcast.status),
        request=json.dumps(broadcast.request, ensure_ascii=False),
        audience=json.dumps(broadcast.audience, ensure_ascii=False),
        audience_total=broadcast.audience_total,
        created_by=broadcast.created_by,
        created_by_subject=broadcast.created_by_subject,
        created_at=broadcast.created_at,
        created_key=f"{broadcast.created_at.isoformat()}#{broadcast.broadcast_id}",
    )


def _broadcast(item: BroadcastItem, published: tuple[tuple[str, str], ...]) -> Broadcast:
    return Broadcast(
        broadcast_id=item.broadcast_id,
        status=BroadcastStatus(item.broadcast_status),
        request=json.loads(item.request),
        audience=json.loads(item.audience),
        audience_total=int(item.audience_total),
        created_by=item.created_by,
        created_by_subject=item.created_by_subject,
        created_at=item.created_at,
        approved_by=item.approved_by,
        approved_by_subject=item.approved_by_subject,
        approved_at=item.approved_at,
        finished_at=item.finished_at,
        problem=item.problem,
        sns_message_ids=published,
    )
