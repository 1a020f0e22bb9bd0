"""The audit trail's table: entries are only ever added (conditional Put in a transaction), never changed."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import QueryError

from shared.domain import AuditEntry
from shared.errors import AuditUnavailableError, InvalidRequestError, StorageUnavailableError
from shared.storage import models
from shared.storage.models import AuditItem
from shared.storage.transactions import ConditionFailedError, commit

# A transaction takes at most 100 operations: a page of at most 100 tips is audited in one request.
_TRANSACTION_LIMIT = 100


def append(entries: list[tuple[str, AuditEntry]]) -> None:
    """Add entries, each with its unique id, never over an existing one; AuditUnavailableError if not stored."""
    models.bind_audit()
    operations = [operation(entry_id, entry) for entry_id, entry in entries]
    try:
        for start in range(0, len(operations), _TRANSACTION_LIMIT):
            commit(operations[start : start + _TRANSACTION_LIMIT])
    except (ConditionFailedError, StorageUnavailableError) as error:
        raise AuditUnavailableError("the audit trail could not be written") from error


def operation(entry_id: str, entry: AuditEntry):
    """The entry as one operation of a transaction, so that a change and its trace are written together."""
    models.bind_audit()
    item = _item(entry_id, entry)
    return (f"audit:{entry_id}", lambda tx: tx.save(item, condition=AuditItem.at_key.does_not_exist()))


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
