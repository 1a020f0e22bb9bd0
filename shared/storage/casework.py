"""Officers' side of the tip table: lists served by index Queries, the tip file, triage changes, notes, follow-ups."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, QueryError, UpdateError

from shared.domain import (
    Channel,
    FollowUp,
    FollowUpStatus,
    InformantText,
    Location,
    MediaKind,
    MediaStatus,
    Note,
    StoredMedia,
    TipChange,
    TipFile,
    TipListQuery,
    TipPage,
    TipStatus,
    TipSummary,
)
from shared.errors import InvalidRequestError, StorageUnavailableError
from shared.storage import models
from shared.storage.models import FollowUpItem, MediaItem, NoteItem, OpenTipItem, TipItem
from shared.storage.transactions import ConditionFailedError, commit, is_condition_failure

# Which index serves which combination of filters; the README's "Tip lists" table says the same.
_INDEX_BY_FILTERS = {
    (): ("by_received", lambda q: models.LISTED),
    ("status",): ("by_status", lambda q: str(q.status)),
    ("area_id",): ("by_area", lambda q: q.area_id),
    ("area_id", "status"): ("by_area_status", lambda q: f"{q.area_id}#{q.status}"),
    ("channel",): ("by_channel", lambda q: str(q.channel)),
    ("channel", "status"): ("by_channel_status", lambda q: f"{q.channel}#{q.status}"),
    ("wanted_id",): ("by_wanted", lambda q: q.wanted_id),
    ("area_id", "wanted_id"): ("by_wanted_area", lambda q: f"{q.wanted_id}#{q.area_id}"),
}
INDEXED_FILTERS: tuple[tuple[str, ...], ...] = tuple(_INDEX_BY_FILTERS)
_HASH_ATTRIBUTE = {
    "by_received": "listed",
    "by_status": "status",
    "by_area": "area_key",
    "by_area_status": "area_status",
    "by_channel": "channel",
    "by_channel_status": "channel_status",
    "by_wanted": "wanted_id",
    "by_wanted_area": "wanted_area",
}


def _tip_pk(tip_id: str) -> str:
    return f"TIP#{tip_id}"


def list_tips(query: TipListQuery) -> TipPage:
    """One page, newest first, from the one index whose key matches the filters; reads ``limit`` + 1 items."""
    models.bind()
    filters = tuple(name for name in ("area_id", "channel", "status", "wanted_id") if getattr(query, name) is not None)
    if filters not in _INDEX_BY_FILTERS:
        raise InvalidRequestError(f"filters {' + '.join(filters)} cannot be combined; {describe_indexed_filters()}")
    index_name, hash_value = _INDEX_BY_FILTERS[filters]
    index = getattr(TipItem, index_name)
    hash_key = hash_value(query)
    start = None
    if query.after:
        _check_cursor_in_bounds(query)
        tip_id = query.after.rpartition("#")[2]
        start = {
            _HASH_ATTRIBUTE[index_name]: {"S": hash_key},
            "received_key": {"S": query.after},
            "pk": {"S": _tip_pk(tip_id)},
            "sk": {"S": "TIP"},
        }
    # One more than the page: if it arrives there is a next page, and no empty last page is ever served.
    results = index.query(
        hash_key,
        range_key_condition=_received_between(query.since, query.until),
        scan_index_forward=False,
        limit=query.limit + 1,
        page_size=query.limit + 1,
        last_evaluated_key=start,
    )
    try:
        items = list(results)
    except QueryError as error:
        raise StorageUnavailableError("could not list tips") from error
    page = items[: query.limit]
    more = len(items) > query.limit
    return TipPage(
        tips=tuple(_summary(item) for item in page),
        after=page[-1].received_key if more and page else None,
        items_read=results.page_iter.total_scanned_count,
    )


def _check_cursor_in_bounds(query: TipListQuery) -> None:
    # DynamoDB refuses a start key outside the key condition (ValidationException): say so as a 400 instead.
    too_early = query.since is not None and query.after < received_key_bound(query.since)
    too_late = query.until is not None and query.after > received_key_bound(query.until, upper=True)
    if too_early or too_late:
        raise InvalidRequestError("cursor belongs to other since/until bounds: start again without it")


def describe_indexed_filters() -> str:
    combos = [" + ".join(combo) or "none" for combo in INDEXED_FILTERS]
    return "supported filter combinations: " + ", ".join(combos) + " (each with since/until)"


def _received_between(since: datetime | None, until: datetime | None):
    if since and until:
        return TipItem.received_key.between(received_key_bound(since), received_key_bound(until, upper=True))
    if since:
        return TipItem.received_key >= received_key_bound(since)
    if until:
        return TipItem.received_key <= received_key_bound(until, upper=True)
    return None


def received_key_bound(moment: datetime, *, upper: bool = False) -> str:
    # received_key is "<received_at ISO 8601 in UTC>#<tip id>"; "~" sorts after every tip id.
    text = moment.astimezone(UTC).isoformat()
    return f"{text}#~" if upper else text


_MODEL_BY_SORT_PREFIX = {"TIP": TipItem, "MEDIA#": MediaItem, "NOTE#": NoteItem, "FOLLOWUP#": FollowUpItem}


def get_tip_file(tip_id: str) -> TipFile | None:
    """The tip with its media, notes and follow-ups: one Query over the tip's partition (paged past 1 MB)."""
    models.bind()
    found: dict[type, list] = {model: [] for model in _MODEL_BY_SORT_PREFIX.values()}
    for raw in _partition_items(_tip_pk(tip_id)):
        sort_key = raw["sk"]["S"]
        model = next((m for prefix, m in _MODEL_BY_SORT_PREFIX.items() if sort_key.startswith(prefix)), None)
        if model is not None:
            found[model].append(model.from_raw_data(raw))
    if not found[TipItem]:
        return None
    tip = found[TipItem][0]
    media = [_media(item) for item in found[MediaItem]]
    notes = [_note(item) for item in found[NoteItem]]
    followups = [_followup(item) for item in found[FollowUpItem]]
    texts = _timed_texts(tip)
    return TipFile(
        summary=_summary(tip),
        texts=texts,
        media=tuple(media),
        notes=tuple(notes),
        followups=tuple(followups),
        last_message_at=tip.last_message_at,
        message_count=int(tip.message_count or 0),
        forwarded=bool(tip.forwarded),
        public_post=bool(tip.public_post),
        updated_at=tip.updated_at,
        sender_pseudonym=tip.sender_pseudonym,
    )


def _partition_items(pk: str) -> list[dict]:
    connection = TipItem._get_connection()
    items, start = [], None
    try:
        while True:
            page = connection.query(pk, consistent_read=True, exclusive_start_key=start)
            items += page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return items
    except QueryError as error:
        raise StorageUnavailableError("could not read the tip") from error


def _timed_texts(tip: TipItem) -> tuple[InformantText, ...]:
    """Texts with their arrival times; a tip written before times were kept has them only for its later texts."""
    texts = list(tip.texts or [])
    times = list(tip.text_times or [])[-len(texts) :] if texts else []
    untimed = len(texts) - len(times)
    return tuple(
        InformantText(at=tip.received_at if i < untimed else datetime.fromisoformat(times[i - untimed]), text=text)
        for i, text in enumerate(texts)
    )


def get_media(tip_id: str, media_key: str) -> StoredMedia | None:
    models.bind()
    try:
        return _media(MediaItem.get(_tip_pk(tip_id), f"MEDIA#{media_key}"))
    except DoesNotExist:
        return None


class StaleTipError(Exception):
    """The tip's status or area changed between the read and the write."""


AuditOperation = tuple[str, Callable]


def update_tip(before: TipSummary, change: TipChange, at: datetime, audit: AuditOperation) -> None:
    """Apply a triage change and its audit entry atomically; index keys follow status and area.

    StaleTipError if someone changed the tip's status or area since ``before`` was read."""
    models.bind()
    status = change.status or before.status
    area_id = change.area_id or before.area_id
    wanted_id = None if change.unlink_wanted else (change.wanted_id or before.wanted_id)
    actions = [TipItem.updated_at.set(at), TipItem.status.set(str(status))]
    if area_id is not None:
        actions.append(TipItem.area_id.set(area_id))
    actions += [
        getattr(TipItem, name).set(value)
        for name, value in models.tip_index_keys(area_id, str(status), str(before.channel), wanted_id).items()
    ]
    if wanted_id is None:
        actions += [TipItem.wanted_id.remove(), TipItem.wanted_area.remove()]
    if change.assignee is not None:
        actions.append(TipItem.assignee.set(change.assignee))
    elif change.unassign:
        actions.append(TipItem.assignee.remove())
    # The index keys are computed from what was read: the write only lands if status and area are still that.
    unchanged = (
        (TipItem.status == str(before.status))
        & (TipItem.area_id.does_not_exist() if before.area_id is None else TipItem.area_id == before.area_id)
        & (TipItem.wanted_id.does_not_exist() if before.wanted_id is None else TipItem.wanted_id == before.wanted_id)
    )
    tip = TipItem(pk=_tip_pk(before.tip_id), sk="TIP")
    operations = [("tip", lambda tx: tx.update(tip, actions=actions, condition=TipItem.pk.exists() & unchanged)), audit]
    try:
        commit(operations)
    except ConditionFailedError as error:
        if error.operation in ("tip", "conflict"):  # the tip's condition, or a concurrent transaction on it
            raise StaleTipError(before.tip_id) from error
        raise StorageUnavailableError("could not write the change with its audit entry") from error


def add_note(tip_id: str, note: Note, audit: AuditOperation) -> None:
    models.bind()
    item = NoteItem(
        pk=_tip_pk(tip_id),
        sk=f"NOTE#{note.written_at.isoformat()}#{note.note_id}",
        note_id=note.note_id,
        author=note.author,
        written_at=note.written_at,
        text=note.text,
    )
    try:
        commit([("note", lambda tx: tx.save(item, condition=NoteItem.pk.does_not_exist())), audit])
    except ConditionFailedError as error:
        raise StorageUnavailableError("could not save the note") from error


class SenderBusyError(Exception):
    """The informant has another tip open right now: their next messages belong to it."""


def add_followup(
    tip_id: str,
    followup: FollowUp,
    audit: AuditOperation,
    *,
    sender_pseudonym: str,
    channel: Channel,
    open_until: int,
) -> None:
    """Store the question and let the informant's answers join this tip until ``open_until`` (epoch seconds).

    SenderBusyError if the informant's messages now join another tip (it may be another area's: never taken over).
    """
    models.bind()
    now_epoch = int(followup.written_at.timestamp())
    item = FollowUpItem(
        pk=_tip_pk(tip_id),
        sk=_followup_sk(followup.written_at, followup.followup_id),
        followup_id=followup.followup_id,
        author=followup.author,
        written_at=followup.written_at,
        text=followup.text,
        followup_status=str(FollowUpStatus.QUEUED),
    )
    reopened = OpenTipItem(
        pk=f"SENDER#{sender_pseudonym}",
        sk=f"OPEN#{channel}",
        tip_id=tip_id,
        open_until=open_until,
        expires_at=datetime.fromtimestamp(open_until + 86400, tz=UTC),
    )
    free = OpenTipItem.pk.does_not_exist() | (OpenTipItem.open_until < now_epoch) | (OpenTipItem.tip_id == tip_id)
    operations = [
        ("followup", lambda tx: tx.save(item, condition=FollowUpItem.pk.does_not_exist())),
        ("open", lambda tx: tx.save(reopened, condition=free)),
        audit,
    ]
    try:
        commit(operations)
    except ConditionFailedError as error:
        if error.operation in ("open", "conflict"):
            raise SenderBusyError(tip_id) from error
        raise StorageUnavailableError("could not queue the follow-up") from error


def followup_key(written_at: datetime, followup_id: str) -> str:
    """The follow-up's id as jobs carry it: enough to read it back with one GetItem."""
    return f"{written_at.isoformat()}#{followup_id}"


def _followup_sk(written_at: datetime, followup_id: str) -> str:
    return f"FOLLOWUP#{followup_key(written_at, followup_id)}"


def get_followup(tip_id: str, key: str) -> FollowUp | None:
    models.bind()
    try:
        return _followup(FollowUpItem.get(_tip_pk(tip_id), f"FOLLOWUP#{key}", consistent_read=True))
    except DoesNotExist:
        return None


def claim_followup(tip_id: str, key: str, now: datetime, lease_seconds: int) -> int | None:
    """Take the follow-up for one sender: the lease (epoch seconds) it holds, or None if it was sent, failed, or
    another sender's lease runs."""
    models.bind()
    now_epoch = int(now.timestamp())
    claimable = (FollowUpItem.followup_status == str(FollowUpStatus.QUEUED)) | (
        (FollowUpItem.followup_status == str(FollowUpStatus.SENDING)) & (FollowUpItem.lease_until < now_epoch)
    )
    lease = now_epoch + lease_seconds
    try:
        FollowUpItem(pk=_tip_pk(tip_id), sk=f"FOLLOWUP#{key}").update(
            actions=[
                FollowUpItem.followup_status.set(str(FollowUpStatus.SENDING)),
                FollowUpItem.lease_until.set(lease),
            ],
            condition=FollowUpItem.pk.exists() & claimable,
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return None
        raise StorageUnavailableError("could not claim the follow-up") from error
    return lease


def finish_followup(
    tip_id: str, key: str, lease: int, status: FollowUpStatus, at: datetime, failure: str | None = None
) -> bool:
    """Record the outcome of a claimed follow-up (QUEUED releases it), only while the claim is still ours:
    a sender whose lease lapsed must not undo what the next one did. False if the claim was lost."""
    models.bind()
    actions = [FollowUpItem.followup_status.set(str(status)), FollowUpItem.lease_until.remove()]
    if status is FollowUpStatus.SENT:
        actions.append(FollowUpItem.sent_at.set(at))
    if failure:
        actions.append(FollowUpItem.failure.set(failure))
    ours = (FollowUpItem.followup_status == str(FollowUpStatus.SENDING)) & (FollowUpItem.lease_until == lease)
    try:
        FollowUpItem(pk=_tip_pk(tip_id), sk=f"FOLLOWUP#{key}").update(actions=actions, condition=ours)
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not record the follow-up's outcome") from error
    return True


def mark_followup_unqueued(tip_id: str, key: str) -> None:
    """The question was stored but its job could not be queued: say so on it rather than leave it waiting."""
    models.bind()
    FollowUpItem(pk=_tip_pk(tip_id), sk=f"FOLLOWUP#{key}").update(
        actions=[
            FollowUpItem.followup_status.set(str(FollowUpStatus.FAILED)),
            FollowUpItem.failure.set("could not be queued for sending; ask again"),
        ],
        condition=FollowUpItem.followup_status == str(FollowUpStatus.QUEUED),
    )


# --- items -> domain -------------------------------------------------------------------------------------------------


def _summary(item: TipItem) -> TipSummary:
    location = None
    if item.location is not None:
        location = Location(
            latitude=float(item.location.latitude),
            longitude=float(item.location.longitude),
            name=item.location.name,
            address=item.location.address,
        )
    return TipSummary(
        tip_id=item.tip_id,
        reference=item.reference,
        status=TipStatus(item.status),
        channel=Channel(item.channel),
        area_id=item.area_id,
        received_at=item.received_at,
        texts=tuple(item.texts or ()),
        media_count=int(item.media_count or 0),
        location=location,
        assignee=item.assignee,
        received_key=item.received_key,
        wanted_id=item.wanted_id,
    )


def _media(item: MediaItem) -> StoredMedia:
    return StoredMedia(
        media_key=item.media_key,
        kind=MediaKind(item.kind),
        status=MediaStatus(item.status),
        caption=item.caption,
        content_type=item.content_type,
        size=int(item.size) if item.size is not None else None,
        sha256=item.sha256,
        s3_key=item.s3_key,
        clean_s3_key=item.clean_s3_key,
        failure=item.failure,
    )


def _note(item: NoteItem) -> Note:
    return Note(note_id=item.note_id, author=item.author, written_at=item.written_at, text=item.text)


def _followup(item: FollowUpItem) -> FollowUp:
    return FollowUp(
        followup_id=followup_key(item.written_at, item.followup_id),
        author=item.author,
        written_at=item.written_at,
        text=item.text,
        status=FollowUpStatus(item.followup_status),
        sent_at=item.sent_at,
        failure=item.failure,
    )
