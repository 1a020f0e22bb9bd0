"""Wanted notices in the tips table: numbered by an atomic counter, listed publicly through a sparse index."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist, QueryError, UpdateError

from shared.domain import Localized, PhotoStatus, WantedDetails, WantedNotice, WantedStatus
from shared.errors import StorageUnavailableError
from shared.storage import models
from shared.storage.models import CounterItem, LocalizedAttribute, WantedItem, WantedNumberItem
from shared.storage.transactions import ConditionFailedError, commit, is_condition_failure

ACTIVE_LISTING = "ACTIVE"
_COUNTER = "COUNTER#wanted"


def _pk(wanted_id: str) -> str:
    return f"WANTED#{wanted_id}"


def next_number() -> int:
    """The next notice number (1, 2, …): one atomic ADD, never handed out twice."""
    models.bind()
    counter = CounterItem(pk=_COUNTER)
    try:
        counter.update(actions=[CounterItem.value.add(1)])
    except UpdateError as error:
        raise StorageUnavailableError("could not number the notice") from error
    return int(counter.value)


def create(notice: WantedNotice, audit) -> None:
    """The notice, its number's reservation and its audit entry, in one transaction."""
    models.bind()
    item = _item(notice)
    number = WantedNumberItem(pk=f"WANTEDNO#{notice.number}", wanted_id=notice.wanted_id)
    try:
        commit(
            [
                ("notice", lambda tx: tx.save(item, condition=WantedItem.pk.does_not_exist())),
                ("number", lambda tx: tx.save(number, condition=WantedNumberItem.pk.does_not_exist())),
                audit,
            ]
        )
    except ConditionFailedError as error:
        raise StorageUnavailableError(f"could not create the notice ({error.operation})") from error


def get(wanted_id: str) -> WantedNotice | None:
    models.bind()
    try:
        return _notice(WantedItem.get(_pk(wanted_id), "WANTED", consistent_read=True))
    except DoesNotExist:
        return None


def find_by_number(number: int) -> WantedNotice | None:
    models.bind()
    try:
        reserved = WantedNumberItem.get(f"WANTEDNO#{number}", "WANTEDNO")
    except DoesNotExist:
        return None
    return get(reserved.wanted_id)


def list_active(limit: int) -> list[WantedNotice]:
    """Active notices, newest first; a district has tens of them, so one Query of at most ``limit`` reads it."""
    models.bind()
    try:
        return [
            _notice(item)
            for item in WantedItem.by_listing.query(
                ACTIVE_LISTING, scan_index_forward=False, limit=limit, page_size=limit
            )
        ]
    except QueryError as error:
        raise StorageUnavailableError("could not list the notices") from error


def save_changes(before: WantedNotice, after: WantedNotice, audit) -> None:
    """Replace the notice with ``after`` if nobody changed it since ``before`` was read; with its audit entry."""
    models.bind()
    item = _item(after)
    unchanged = (
        (WantedItem.updated_at == before.updated_at) if before.updated_at else WantedItem.updated_at.does_not_exist()
    )
    try:
        commit([("notice", lambda tx: tx.save(item, condition=WantedItem.pk.exists() & unchanged)), audit])
    except ConditionFailedError as error:
        raise StaleNoticeError(before.wanted_id) from error


class StaleNoticeError(Exception):
    """The notice changed between the read and the write."""


def expect_upload(wanted_id: str, upload_key: str, at: datetime) -> None:
    """From now on, only this upload may become the notice's photo."""
    models.bind()
    WantedItem(pk=_pk(wanted_id), sk="WANTED").update(
        actions=[
            WantedItem.photo_upload_key.set(upload_key),
            WantedItem.photo_problem.remove(),
            WantedItem.updated_at.set(at),
        ],
        condition=WantedItem.pk.exists(),
    )


def forget_photo(wanted_id: str) -> None:
    """A closed notice's public renditions are deleted: forget their keys."""
    models.bind()
    WantedItem(pk=_pk(wanted_id), sk="WANTED").update(
        actions=[WantedItem.photo_key.remove(), WantedItem.thumbnail_key.remove()],
        condition=WantedItem.wanted_status != str(WantedStatus.ACTIVE),
    )


def publish_photo(wanted_id: str, upload_key: str, photo_key: str, thumbnail_key: str, at: datetime) -> bool:
    """Record the published renditions, if the notice still waits for this upload and is still active."""
    return _photo_outcome(
        wanted_id,
        upload_key,
        [
            WantedItem.photo_status.set(str(PhotoStatus.PUBLISHED)),
            WantedItem.photo_key.set(photo_key),
            WantedItem.thumbnail_key.set(thumbnail_key),
            WantedItem.photo_problem.remove(),
        ],
        at,
    )


def reject_photo(wanted_id: str, upload_key: str, problem: str, at: datetime) -> bool:
    """Say why the upload was refused; a photo published before stays."""
    # The upload is done with: a second notification of it (S3 delivers at least once) finds nothing to wait for.
    actions = [WantedItem.photo_problem.set(problem), WantedItem.photo_upload_key.remove()]
    return _photo_outcome(wanted_id, upload_key, actions, at)


def _photo_outcome(wanted_id: str, upload_key: str, actions: list, at: datetime) -> bool:
    models.bind()
    actions = [*actions, WantedItem.updated_at.set(at)]  # an editor who read the notice before must read it again
    current = (WantedItem.photo_upload_key == upload_key) & (WantedItem.wanted_status == str(WantedStatus.ACTIVE))
    try:
        WantedItem(pk=_pk(wanted_id), sk="WANTED").update(actions=actions, condition=current)
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not record the photo") from error
    return True


# --- items <-> domain ------------------------------------------------------------------------------------------------


def _localized(value: Localized | None) -> LocalizedAttribute | None:
    return LocalizedAttribute(en=value.en, hi=value.hi) if value else None


def _item(notice: WantedNotice) -> WantedItem:
    details = notice.details
    return WantedItem(
        pk=_pk(notice.wanted_id),
        wanted_id=notice.wanted_id,
        number=notice.number,
        name=details.name,
        aliases=list(details.aliases),
        areas=list(details.areas),
        crime=_localized(details.crime),
        description=_localized(details.description),
        reward=_localized(details.reward),
        caution=_localized(details.caution),
        wanted_status=str(notice.status),
        wanted_listing=ACTIVE_LISTING if notice.status is WantedStatus.ACTIVE else None,
        created_key=notice.created_key,
        created_at=notice.created_at,
        created_by=notice.created_by,
        updated_at=notice.updated_at,
        photo_status=str(notice.photo_status),
        photo_problem=notice.photo_problem,
        photo_upload_key=notice.photo_upload_key,
        photo_key=notice.photo_key,
        thumbnail_key=notice.thumbnail_key,
    )


def _from_attribute(value: LocalizedAttribute | None) -> Localized | None:
    return Localized(en=value.en, hi=value.hi) if value is not None else None


def _notice(item: WantedItem) -> WantedNotice:
    return WantedNotice(
        wanted_id=item.wanted_id,
        number=int(item.number),
        details=WantedDetails(
            name=item.name,
            aliases=tuple(item.aliases or ()),
            areas=tuple(item.areas or ()),
            crime=_from_attribute(item.crime),  # type: ignore[arg-type]
            description=_from_attribute(item.description),  # type: ignore[arg-type]
            reward=_from_attribute(item.reward),
            caution=_from_attribute(item.caution),
        ),
        status=WantedStatus(item.wanted_status),
        created_at=item.created_at,
        created_by=item.created_by,
        updated_at=item.updated_at,
        photo_status=PhotoStatus(item.photo_status),
        photo_problem=item.photo_problem,
        photo_upload_key=item.photo_upload_key,
        photo_key=item.photo_key,
        thumbnail_key=item.thumbnail_key,
        created_key=item.created_key,
    )
