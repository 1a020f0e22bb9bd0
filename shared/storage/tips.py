"""Tip repository on DynamoDB: exactly-once recording through conditional transactions."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from shared import config
from shared.domain import (
    AckStatus,
    Channel,
    MediaStatus,
    MessageRecord,
    NewTip,
    OpenTip,
    RecordedMessage,
    TipForReply,
    TipStatus,
)
from shared.errors import DuplicateMessageError, OpenTipConflictError, StorageUnavailableError
from shared.storage import models
from shared.storage.models import (
    LocationAttribute,
    MediaItem,
    MessageItem,
    OpenTipItem,
    ReferenceItem,
    TipItem,
)
from shared.storage.transactions import ConditionFailedError, commit, is_condition_failure


def _tip_pk(tip_id: str) -> str:
    return f"TIP#{tip_id}"


def _open_key(pseudonym: str, channel: Channel) -> tuple[str, str]:
    return f"SENDER#{pseudonym}", f"OPEN#{channel}"


def _message_pk(message: MessageRecord | str, channel: Channel | None = None) -> str:
    if isinstance(message, MessageRecord):
        return f"MSG#{message.channel}#{message.message_key}"
    return f"MSG#{channel}#{message}"


def find_open_tip(pseudonym: str, channel: Channel, now: datetime) -> OpenTip | None:
    """The sender's tip that still takes follow-ups, read consistently."""
    models.bind()
    pk, sk = _open_key(pseudonym, channel)
    try:
        item = OpenTipItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None
    if item.open_until < now.timestamp():
        return None
    return OpenTip(tip_id=item.tip_id, open_until=int(item.open_until))


def find_message(message_key: str, channel: Channel) -> RecordedMessage | None:
    models.bind()
    try:
        item = MessageItem.get(_message_pk(message_key, channel), "MSG", consistent_read=True)
    except DoesNotExist:
        return None
    return RecordedMessage(
        tip_id=item.tip_id, opened_tip=bool(item.opened_tip), followups_pending=bool(item.followups_pending)
    )


def open_tip(tip: NewTip, message: MessageRecord) -> None:
    """Create the tip with its first message, atomically with its reference, open-tip and dedupe records."""
    models.bind()
    now_epoch = int(message.received_at.timestamp())
    pk, sk = _open_key(message.sender_pseudonym, message.channel)
    item = TipItem(
        pk=_tip_pk(tip.tip_id),
        tip_id=tip.tip_id,
        reference=tip.reference,
        channel=str(message.channel),
        status=str(TipStatus.NEW),
        area_id=tip.area_id,
        **models.tip_index_keys(tip.area_id, str(TipStatus.NEW), str(message.channel), tip.wanted_id),
        received_at=message.received_at,
        received_key=f"{message.received_at.isoformat()}#{tip.tip_id}",
        sent_at=message.sent_at,
        last_message_at=message.received_at,
        texts=list(message.texts),
        text_times=[message.received_at.isoformat()] * len(message.texts),
        location=_location_attribute(message),
        message_count=1,
        media_count=len(message.media),
        forwarded=message.forwarded,
        public_post=tip.public_post or None,
        sender_pseudonym=message.sender_pseudonym,
        reply_handle=tip.reply_handle,
        ack_status=str(AckStatus.PENDING),
    )
    operations = [
        (
            "message",
            lambda tx: tx.save(_message_item(message, tip.tip_id, True), condition=MessageItem.pk.does_not_exist()),
        ),
        ("tip", lambda tx: tx.save(item, condition=TipItem.pk.does_not_exist())),
        (
            "reference",
            lambda tx: tx.save(
                ReferenceItem(pk=f"REF#{tip.reference}", tip_id=tip.tip_id), condition=ReferenceItem.pk.does_not_exist()
            ),
        ),
        (
            "open",
            lambda tx: tx.save(
                OpenTipItem(
                    pk=pk,
                    sk=sk,
                    tip_id=tip.tip_id,
                    open_until=tip.open_until,
                    expires_at=_epoch(tip.open_until + 86400),
                ),
                condition=OpenTipItem.pk.does_not_exist() | (OpenTipItem.open_until < now_epoch),
            ),
        ),
    ]
    operations += _media_operations(tip.tip_id, message)
    _commit_message(operations)


def append_to_tip(open_tip_: OpenTip, message: MessageRecord, open_until: int) -> None:
    """Add a follow-up message to the sender's open tip and keep the tip open a while longer."""
    models.bind()
    now_epoch = int(message.received_at.timestamp())
    pk, sk = _open_key(message.sender_pseudonym, message.channel)
    actions = [
        TipItem.texts.set((TipItem.texts | []).append(list(message.texts))),
        TipItem.text_times.set(
            (TipItem.text_times | []).append([message.received_at.isoformat()] * len(message.texts))
        ),
        TipItem.message_count.add(1),
        TipItem.last_message_at.set(message.received_at),
    ]
    if message.media:
        actions.append(TipItem.media_count.add(len(message.media)))
    if message.location:
        actions.append(TipItem.location.set(_location_attribute(message)))
    if message.forwarded:
        actions.append(TipItem.forwarded.set(True))
    tip_key = TipItem(pk=_tip_pk(open_tip_.tip_id))
    open_key = OpenTipItem(pk=pk, sk=sk)
    operations = [
        (
            "message",
            lambda tx: tx.save(
                _message_item(message, open_tip_.tip_id, False), condition=MessageItem.pk.does_not_exist()
            ),
        ),
        ("tip", lambda tx: tx.update(tip_key, actions=actions, condition=TipItem.pk.exists())),
        (
            "open",
            lambda tx: tx.update(
                open_key,
                actions=[
                    OpenTipItem.open_until.set(open_until),
                    OpenTipItem.expires_at.set(_epoch(open_until + 86400)),
                ],
                condition=(OpenTipItem.tip_id == open_tip_.tip_id) & (OpenTipItem.open_until >= now_epoch),
            ),
        ),
    ]
    operations += _media_operations(open_tip_.tip_id, message)
    _commit_message(operations)


def assign_area_if_unset(tip_id: str, area_id: str, channel: Channel) -> bool:
    """Give a new tip without an area the area of a location sent later; an officer's choice is never overridden.

    True if the area was set now."""
    models.bind()
    tip = get_tip_for_reply(tip_id)
    wanted_id = tip.wanted_id if tip else None
    keys = models.tip_index_keys(area_id, str(TipStatus.NEW), str(channel), wanted_id)
    try:
        TipItem(pk=_tip_pk(tip_id)).update(
            actions=[TipItem.area_id.set(area_id)]
            + [getattr(TipItem, name).set(value) for name, value in keys.items()],
            condition=TipItem.pk.exists()
            & TipItem.area_id.does_not_exist()
            & (TipItem.status == str(TipStatus.NEW))
            & (TipItem.wanted_id.does_not_exist() if wanted_id is None else TipItem.wanted_id == wanted_id),
        )
    except UpdateError as error:
        if not is_condition_failure(error):
            raise StorageUnavailableError("could not assign the area") from error
        return False
    return True


def link_wanted_if_unset(tip_id: str, wanted_id: str) -> bool:
    """Link a tip to the wanted notice a later message quotes, unless it is linked already (an officer decides)."""
    models.bind()
    tip = get_tip_for_reply(tip_id)
    if tip is None or tip.wanted_id is not None:
        return False
    keys = models.tip_index_keys(tip.area_id, tip.status, str(tip.channel), wanted_id)
    same_area = TipItem.area_id.does_not_exist() if tip.area_id is None else TipItem.area_id == tip.area_id
    try:
        TipItem(pk=_tip_pk(tip_id)).update(
            actions=[getattr(TipItem, name).set(value) for name, value in keys.items()],
            condition=TipItem.wanted_id.does_not_exist() & same_area & (TipItem.status == tip.status),
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not link the notice") from error
    return True


def mark_followups_done(message_key: str, channel: Channel) -> None:
    models.bind()
    try:
        MessageItem(pk=_message_pk(message_key, channel)).update(actions=[MessageItem.followups_pending.set(False)])
    except UpdateError as error:
        raise StorageUnavailableError("could not mark follow-ups done") from error


def get_tip_for_reply(tip_id: str) -> TipForReply | None:
    models.bind()
    try:
        item = TipItem.get(_tip_pk(tip_id), "TIP", consistent_read=True)
    except DoesNotExist:
        return None
    return TipForReply(
        tip_id=item.tip_id,
        reference=item.reference,
        channel=Channel(item.channel),
        reply_handle=item.reply_handle,
        ack_status=AckStatus(item.ack_status),
        sender_pseudonym=item.sender_pseudonym,
        status=item.status,
        area_id=item.area_id,
        wanted_id=item.wanted_id,
    )


def tips_awaiting_acknowledgement(channel: Channel, since: datetime) -> list[str]:
    """Ids of the channel's tips received since ``since`` whose acknowledgement never went out (still pending),
    oldest first. One Query of the by-channel index, then one consistent read per tip: an operator's step."""
    from shared.storage.casework import received_key_bound

    models.bind()
    listed = TipItem.by_channel.query(str(channel), TipItem.received_key >= received_key_bound(since))
    tip_ids = [item.pk.removeprefix("TIP#") for item in listed]
    return [
        tip_id
        for tip_id in tip_ids
        if (tip := get_tip_for_reply(tip_id)) is not None and tip.ack_status is AckStatus.PENDING
    ]


def find_tip_by_reference(reference: str) -> TipForReply | None:
    models.bind()
    try:
        reserved = ReferenceItem.get(f"REF#{reference}", "REF", consistent_read=True)
    except DoesNotExist:
        return None
    return get_tip_for_reply(reserved.tip_id)


def record_query(message_key: str, channel: Channel, received_at: datetime) -> None:
    """Remember a message that asked something (not a tip), so that a redelivery is not answered twice."""
    models.bind()
    retention = config.get_int("DEDUPE_RETENTION_SECONDS")
    item = MessageItem(
        pk=_message_pk(message_key, channel),
        tip_id="",
        opened_tip=False,
        followups_pending=False,
        expires_at=_epoch(int(received_at.timestamp()) + retention),
    )
    try:
        item.save(condition=MessageItem.pk.does_not_exist())
    except PutError as error:
        if is_condition_failure(error):
            raise DuplicateMessageError("query already answered") from error
        raise StorageUnavailableError("could not record the query") from error


def set_ack_status(tip_id: str, status: AckStatus, at: datetime) -> None:
    """Record the acknowledgement's outcome (or release a claim with PENDING); a tip marked sent stays sent."""
    models.bind()
    actions = [TipItem.ack_status.set(str(status)), TipItem.ack_lease_until.remove()]
    if status is AckStatus.SENT:
        actions.append(TipItem.ack_sent_at.set(at))
    try:
        TipItem(pk=_tip_pk(tip_id)).update(
            actions=actions, condition=TipItem.pk.exists() & (TipItem.ack_status != str(AckStatus.SENT))
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return
        raise StorageUnavailableError("could not record the acknowledgement") from error


def claim_ack(tip_id: str, now: datetime, lease_seconds: int) -> bool:
    """Take the tip's acknowledgement for one sender: True unless it is sent or another sender's lease runs."""
    models.bind()
    now_epoch = int(now.timestamp())
    claimable = (TipItem.ack_status == str(AckStatus.PENDING)) | (
        (TipItem.ack_status == str(AckStatus.SENDING)) & (TipItem.ack_lease_until < now_epoch)
    )
    try:
        TipItem(pk=_tip_pk(tip_id)).update(
            actions=[
                TipItem.ack_status.set(str(AckStatus.SENDING)),
                TipItem.ack_lease_until.set(now_epoch + lease_seconds),
            ],
            condition=TipItem.pk.exists() & claimable,
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not claim the acknowledgement") from error
    return True


def get_media_status(tip_id: str, media_key: str) -> MediaStatus | None:
    models.bind()
    try:
        item = MediaItem.get(_tip_pk(tip_id), f"MEDIA#{media_key}", consistent_read=True)
    except DoesNotExist:
        return None
    return MediaStatus(item.status)


def record_media_stored(
    tip_id: str,
    media_key: str,
    *,
    s3_key: str,
    content_type: str,
    size: int,
    sha256: str,
    clean_s3_key: str | None = None,
) -> None:
    models.bind()
    actions = [
        MediaItem.status.set(str(MediaStatus.STORED)),
        MediaItem.s3_key.set(s3_key),
        MediaItem.content_type.set(content_type),
        MediaItem.size.set(size),
        MediaItem.sha256.set(sha256),
        MediaItem.failure.remove(),
    ]
    if clean_s3_key:
        actions.append(MediaItem.clean_s3_key.set(clean_s3_key))
    MediaItem(pk=_tip_pk(tip_id), sk=f"MEDIA#{media_key}").update(
        condition=MediaItem.status == str(MediaStatus.PENDING),  # never over a missing or rejected verdict
        actions=actions,
    )


def record_media_failed(tip_id: str, media_key: str, status: MediaStatus, reason: str) -> None:
    """Mark the attachment missing or rejected, and count it on the tip once."""
    models.bind()
    operations = [
        (
            "media",
            lambda tx: tx.update(
                MediaItem(pk=_tip_pk(tip_id), sk=f"MEDIA#{media_key}"),
                actions=[MediaItem.status.set(str(status)), MediaItem.failure.set(reason)],
                condition=MediaItem.status == str(MediaStatus.PENDING),
            ),
        ),
        (
            "tip",
            lambda tx: tx.update(TipItem(pk=_tip_pk(tip_id)), actions=[TipItem.media_missing.add(1)]),
        ),
    ]
    try:
        commit(operations)
    except ConditionFailedError:  # marked before: count it once only
        return


def _epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _message_item(message: MessageRecord, tip_id: str, opened_tip: bool) -> MessageItem:
    retention = config.get_int("DEDUPE_RETENTION_SECONDS")
    return MessageItem(
        pk=_message_pk(message),
        tip_id=tip_id,
        opened_tip=opened_tip,
        followups_pending=True,
        expires_at=datetime.fromtimestamp(message.received_at.timestamp() + retention, tz=UTC),
    )


def _media_operations(tip_id: str, message: MessageRecord) -> list:
    def save(entry):
        return lambda tx: tx.save(
            MediaItem(
                pk=_tip_pk(tip_id),
                sk=f"MEDIA#{entry.media_key}",
                media_key=entry.media_key,
                kind=str(entry.kind),
                status=str(MediaStatus.PENDING),
                caption=entry.caption,
                # No citizen filename: it can carry a name or a number ("Ravi_9835011111.pdf").
            )
        )

    return [(f"media{index}", save(entry)) for index, entry in enumerate(message.media)]


def _location_attribute(message: MessageRecord) -> LocationAttribute | None:
    if message.location is None:
        return None
    loc = message.location
    return LocationAttribute(latitude=loc.latitude, longitude=loc.longitude, name=loc.name, address=loc.address)


def _commit_message(operations: list) -> None:
    """Commit a message's transaction; a failed condition on its dedupe item means it was recorded before."""
    try:
        commit(operations)
    except ConditionFailedError as error:
        if error.operation == "message":
            raise DuplicateMessageError("message already recorded") from error
        raise OpenTipConflictError(f"conflict on {error.operation}") from error
