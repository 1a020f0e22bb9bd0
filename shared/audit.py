"""Use cases of the audit trail: record every look at a tip and every change, and let admins read it back."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping

from shared import access, clock
from shared.domain import AuditEntry
from shared.errors import InvalidRequestError
from shared.paging import decode_cursor, encode_cursor, page_size
from shared.storage import audit as audit_store
from shared.tokens import Principal

# Actions as they appear in the trail.
LISTED = "tip_listed"
VIEWED = "tip_viewed"
MEDIA_URL_ISSUED = "media_url_issued"
ORIGINAL_URL_ISSUED = "original_media_url_issued"
UPDATED = "tip_updated"
NOTE_ADDED = "note_added"
FOLLOWUP_QUEUED = "followup_queued"

MAX_PAGE = 100
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def record(principal: Principal, action: str, tip_ids: Iterable[str | None], **detail: object) -> None:
    """Append one entry per tip, before the caller answers: no trace, no access (AuditUnavailableError)."""
    entries = [_entry(principal, action, tip_id, detail) for tip_id in tip_ids]
    if entries:
        audit_store.append(entries)


def record_actions(principal: Principal, tip_id: str, actions: list[tuple[str, dict[str, object]]]) -> None:
    """Append several entries about one tip in one write (e.g. a tip opened and the media links it showed)."""
    audit_store.append([_entry(principal, action, tip_id, detail) for action, detail in actions])


def pending(principal: Principal, action: str, tip_id: str, **detail: object):
    """The entry of a change as an operation of the change's own transaction: both are written, or neither."""
    return audit_store.operation(*_entry(principal, action, tip_id, detail))


def _entry(principal: Principal, action: str, tip_id: str | None, detail: dict[str, object]) -> tuple[str, AuditEntry]:
    return (
        str(uuid.uuid4()),
        AuditEntry(
            at=clock.now(),
            actor=principal.username,
            actor_subject=principal.subject,
            action=action,
            tip_id=tip_id,
            detail=dict(detail),
        ),
    )


def list_entries(principal: Principal, params: Mapping[str, str]) -> tuple[list[AuditEntry], str | None]:
    """Admins only: the trail of one tip, one officer or one day (default: today), newest first."""
    access.require_admin(principal)
    tip_id, officer, day = params.get("tip_id"), params.get("officer"), params.get("date")
    if tip_id is None and officer is None and day is None:
        day = audit_store.day_of(clock.now())
    if day is not None and not _DAY.fullmatch(day):
        raise InvalidRequestError("date must be YYYY-MM-DD")
    entries, after = audit_store.query(
        tip_id=tip_id,
        actor=officer,
        day=day,
        limit=page_size(params, MAX_PAGE),
        after=decode_cursor(params.get("cursor")),
    )
    return entries, encode_cursor(after)


def entry_view(entry: AuditEntry) -> dict[str, object]:
    return {
        "at": entry.at.isoformat(),
        "officer": entry.actor,
        "officer_sub": entry.actor_subject,
        "action": entry.action,
        "tip_id": entry.tip_id,
        "detail": entry.detail,
    }
