"""The audit trail's table: entries are only ever added (PutItem/BatchWriteItem), never changed or deleted."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import QueryError

from shared.domain import AuditEntry
from shared.errors import AuditUnavailableError, InvalidRequestError, StorageUnavailableError
from shared.storage import models
from shared.storage.models import AuditItem


def append(entries: list[tuple[str, AuditEntry]]) -> None:
    """Write entries, each with its unique id; AuditUnavailableError if any is not stored."""
    models.bind_audit()
    try:
        with AuditItem.batch_write() as batch:  # 25 items per request, unprocessed items retried by PynamoDB
            for entry_id, entry in entries:
                batch.save(_item(entry_id, entry))
    except Exception as error:  # PutError, or PynamoDB's own error once its retries of unprocessed items run out
        raise AuditUnavailableError("the audit trail could not be written") from error


def _item(entry_id: str, entry: AuditEntry) -> AuditItem:
    return AuditItem(
        day=entry.at.strftime("%Y-%m-%d"),
        at_key=f"{entry.at.isoformat()}#{entry_id}",
        at=entry.at,
        actor=entry.actor,
        actor_subject=entry.actor_subject,
        action=entry.action,
        tip_id=entry.tip_id,
        detail=entry.detail or None,
    )


def query(
    *, tip_id: str | None, actor: str | None, day: str | None, limit: int, after: str | None
) -> tuple[list[AuditEntry], str | None]:
    """Newest first, from the table (by day) or one of its indexes (by tip, by officer); the cursor is an at_key."""
    models.bind_audit()
    if sum(value is not None for value in (tip_id, actor, day)) != 1:
        raise InvalidRequestError("give exactly one of tip_id, officer or date")
    if tip_id is not None:
        source, hash_name, hash_value = AuditItem.by_tip, "tip_id", tip_id
    elif actor is not None:
        source, hash_name, hash_value = AuditItem.by_actor, "actor", actor
    else:
        source, hash_name, hash_value = AuditItem, "day", day
    start = None
    if after:
        start = _start_key(after, hash_name, hash_value, source is not AuditItem)
    results = source.query(
        hash_value, scan_index_forward=False, limit=limit + 1, page_size=limit + 1, last_evaluated_key=start
    )
    try:
        items = list(results)
    except QueryError as error:
        raise StorageUnavailableError("could not read the audit trail") from error
    page = items[:limit]
    after_key = page[-1].at_key if len(items) > limit and page else None
    return [_entry(item) for item in page], after_key


def _start_key(at_key: str, hash_name: str, hash_value: str, on_index: bool) -> dict:
    start = {hash_name: {"S": hash_value}, "at_key": {"S": at_key}}
    if on_index:  # an index's start key also names the table's key of the last item
        start["day"] = {"S": at_key[:10]}
    return start


def _entry(item: AuditItem) -> AuditEntry:
    return AuditEntry(
        at=item.at,
        actor=item.actor,
        actor_subject=item.actor_subject,
        action=item.action,
        tip_id=item.tip_id,
        detail=dict(item.detail.as_dict()) if item.detail is not None else {},
    )


def day_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")
