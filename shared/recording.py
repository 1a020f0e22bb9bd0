"""Use case of the deliveries worker: record each message of a stored delivery exactly once, as (part of) a tip."""

from __future__ import annotations

import base64
import contextlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import areas, commands, config, phones, privacy, wanted
from shared.aws import inbox, queues
from shared.channels import parser_for
from shared.domain import Channel, InboundMessage, MediaEntry, MediaRef, MessageRecord, NewTip
from shared.errors import DuplicateMessageError, InvalidRequestError, OpenTipConflictError
from shared.observability import count, logger
from shared.references import ALPHABET, LENGTH, new_reference
from shared.storage import senders, tips

_GROUPING_ATTEMPTS = 4
MEDIA_QUEUE = "MEDIA_QUEUE_URL"
REPLIES_QUEUE = "REPLIES_QUEUE_URL"


@dataclass(frozen=True)
class DeliveryOutcome:
    opened: int = 0
    joined: int = 0
    duplicates: int = 0
    stale: int = 0
    ignored: int = 0


def process_delivery(channel: Channel, inbox_key: str, received_at: datetime) -> DeliveryOutcome:
    """Parse a stored delivery and record every message in it; safe to run again on the same delivery."""
    raw_body = inbox.read(inbox_key)
    if raw_body is None:  # processed and discarded already (an SQS redelivery) — or expired, which must not happen
        logger.warning("inbox object missing: processed before, or expired", extra={"channel": str(channel)})
        count("InboxObjectsMissing")
        return DeliveryOutcome()
    outcome = record_delivery(channel, raw_body, received_at)
    inbox.discard(inbox_key)
    return outcome


def record_delivery(channel: Channel, raw_body: bytes, received_at: datetime) -> DeliveryOutcome:
    """Parse a delivery and record every message in it; safe to run again on the same delivery."""
    parsed = parser_for(channel)(raw_body)
    for reason in parsed.ignored:
        logger.info("ignored event", extra={"channel": str(channel), "reason": reason})
    if parsed.ignored:
        count("IgnoredEvents", len(parsed.ignored))
    outcomes = _record_all(parsed.messages, received_at)
    return DeliveryOutcome(
        opened=outcomes.count("opened"),
        joined=outcomes.count("joined"),
        duplicates=outcomes.count("duplicate"),
        stale=outcomes.count("stale"),
        ignored=len(parsed.ignored),
    )


def _record_all(messages: tuple[InboundMessage, ...], received_at: datetime) -> list[str]:
    """One message after another, each sender's in the order sent (sequential: see README, "Throughput")."""
    return [record_message(message, received_at) for message in sorted(messages, key=lambda m: m.sent_at)]


def record_message(message: InboundMessage, received_at: datetime) -> str:
    """Store one message: open a tip or join the sender's open one. Returns what happened."""
    if received_at - message.sent_at > timedelta(seconds=config.get_int("REPLAY_HORIZON_SECONDS")):
        count("StaleMessages")
        logger.info("message older than the replay horizon dropped", extra={"channel": str(message.channel)})
        return "stale"
    record = _to_record(message, received_at)
    reference = status_query_reference(message)
    if reference is not None:
        return _answer_status_query(message, record, reference)
    command = chat_command(message)
    if command is not None:
        return _carry_out_command(message, record, command)
    for _ in range(_GROUPING_ATTEMPTS):
        try:
            return _open_or_join(message, record)
        except DuplicateMessageError:
            _finish_duplicate(message, record)
            count("Duplicates")
            return "duplicate"
        except OpenTipConflictError:
            continue  # another worker opened or moved the tip this instant: look again
    raise OpenTipConflictError("sender's open tip kept changing")


def _open_or_join(message: InboundMessage, record: MessageRecord) -> str:
    window = config.get_int("TIP_GROUPING_WINDOW_SECONDS")
    open_until = int(record.received_at.timestamp()) + window
    current = tips.find_open_tip(record.sender_pseudonym, record.channel, record.received_at)
    wanted_id = wanted.quoted_notice(message.text)
    if current is not None:
        tips.append_to_tip(current, record, max(open_until, current.open_until))  # a late message never shrinks it
        if wanted_id:
            tips.link_wanted_if_unset(current.tip_id, wanted_id)
        if (area_id := _area_of(record)) and tips.assign_area_if_unset(current.tip_id, area_id, record.channel):
            # The tip has an area only now: that area's officers hear about it now.
            queues.enqueue(REPLIES_QUEUE, [{"kind": "new_tip_notice", "tip_id": current.tip_id}])
        _count_sender_message(record)
        _send_followups(message, record, current.tip_id, opened_tip=False)
        count("MessagesJoined")
        return "joined"
    tip = NewTip(
        tip_id=str(uuid.uuid4()),
        reference=new_reference(),
        reply_handle=privacy.seal_reply_address(message.reply_address),
        open_until=open_until,
        area_id=_area_of(record),
        public_post=message.reply_address.public,
        wanted_id=wanted_id,
    )
    tips.open_tip(tip, record)
    sender_count = _count_sender_message(record)
    _send_followups(message, record, tip.tip_id, opened_tip=True, sender_count=sender_count)
    count("TipsOpened")
    logger.info("tip opened", extra={"tip_id": tip.tip_id, "channel": str(record.channel)})
    return "opened"


def _area_of(record: MessageRecord) -> str | None:
    if record.location is None:
        return None
    area = areas.nearest_area(record.location.latitude, record.location.longitude)
    return area.id if area else None


def _count_sender_message(record: MessageRecord) -> int:
    """Count the message in the sender's window; the reply sender stops acknowledging over the limit."""
    window = config.get_int("SENDER_LIMIT_WINDOW_SECONDS")
    window_start = int(record.received_at.timestamp()) // window * window
    return senders.count_message(record.sender_pseudonym, record.channel, window_start, window)


# "STATUS DHN-7K3QM", "status dhn7k3qm", "स्थिति DHN-7K3QM?": the sender asks about their own tip. Only a
# reference of our own shape counts, so that "status update …" or "status report" stays an ordinary tip.
_STATUS_WORD = re.compile(r"^\s*(?:status|स्थिति)\s*[:\-]?\s*(?P<prefix>[a-z]+)-?(?P<code>[0-9a-z]+)\s*[.?!]?\s*$", re.I)


def status_query_reference(message: InboundMessage) -> str | None:
    """The reference a private, text-only message asks about, normalised to PREFIX-CODE, or None."""
    if message.media or message.location or not message.text or message.reply_address.public:
        return None  # a public post (X mention) is never answered with a status: that would expose the informant
    match = _STATUS_WORD.match(message.text)
    if not match:
        return None
    prefix, code = match.group("prefix").upper(), match.group("code").upper()
    if prefix != config.get("REFERENCE_PREFIX").upper() or len(code) != LENGTH or set(code) - set(ALPHABET):
        return None
    return f"{prefix}-{code}"


def _answer_status_query(message: InboundMessage, record: MessageRecord, reference: str) -> str:
    """Queue the status of the sender's own tip, or "not found" for any other reference; never a tip."""
    # Answer first, remember second: a crash in between repeats the answer (harmless) rather than losing it.
    if tips.find_message(record.message_key, record.channel) is not None:
        count("Duplicates")
        return "duplicate"
    sender_count = _count_sender_message(record)
    tip = tips.find_tip_by_reference(reference)
    owned = tip is not None and tip.sender_pseudonym == record.sender_pseudonym and tip.channel == record.channel
    handle = privacy.seal_reply_address(message.reply_address)
    queues.enqueue(
        REPLIES_QUEUE,
        [
            {
                "kind": "status",
                "channel": str(record.channel),
                "reference": reference,
                "status": tip.status if owned else None,
                "reply_handle": base64.b64encode(handle).decode(),
                "sender_pseudonym": record.sender_pseudonym,
                "sender_count": sender_count,
            }
        ],
    )
    with contextlib.suppress(DuplicateMessageError):  # a parallel redelivery answered too: two same answers
        tips.record_query(record.message_key, record.channel, record.received_at)
    count("StatusQueries")
    return "status_query"


def chat_command(message: InboundMessage) -> commands.ChatCommand | None:
    """STOP or SUBSCRIBE <area> as a whole private, text-only message (never a public post)."""
    if message.media or message.location or message.reply_address.public:
        return None
    return commands.parse(message.text)


def _carry_out_command(message: InboundMessage, record: MessageRecord, command: commands.ChatCommand) -> str:
    """Leave or join the alerts from the number the message came from; the answer goes through the reply sender."""
    if tips.find_message(record.message_key, record.channel) is not None:
        count("Duplicates")
        return "duplicate"
    purpose, values = _alerts_command_outcome(message, command)
    handle = privacy.seal_reply_address(message.reply_address)
    queues.enqueue(
        REPLIES_QUEUE,
        [
            {
                "kind": "subscription_reply",
                "channel": str(record.channel),
                "purpose": purpose,
                "values": values,
                "reply_handle": base64.b64encode(handle).decode(),
            }
        ],
    )
    with contextlib.suppress(DuplicateMessageError):
        tips.record_query(record.message_key, record.channel, record.received_at)
    count("ChatCommands")
    logger.info("chat command", extra={"channel": str(record.channel), "command": command.kind, "answer": purpose})
    return f"command_{command.kind}"


def _alerts_command_outcome(message: InboundMessage, command: commands.ChatCommand) -> tuple[str, dict[str, str]]:
    """What was done, as the purpose of the reply (texts.py / the DLT template) and its values."""
    from shared import subscriptions  # imported on first use: most deliveries hold no command

    phone = _sender_phone(message)
    if phone is None:  # Messenger, X, WhatsApp username users: alerts go to a number or address they give
        return "subscribe_link", {}
    channel = str(message.channel)
    if command.kind == "stop":
        subscriptions.opt_out_contact("phone", phone, via=channel)
        return "unsubscribed", {}
    area = subscriptions.subscribe_from_chat(phone, command.area_text, command.language, via=channel)
    if area is None:
        return "subscribe_help", {}
    return "subscribed", {"area_hi": area.name_hi, "area_en": area.name_en}


def _sender_phone(message: InboundMessage) -> str | None:
    """The Indian mobile number the message came from (WhatsApp by number, SMS), else None."""
    if message.reply_address.recipient_kind != "phone" or message.channel not in (Channel.WHATSAPP, Channel.SMS):
        return None
    try:
        return phones.indian_mobile_e164("+" + message.reply_address.recipient.lstrip("+"))
    except InvalidRequestError:
        return None  # a foreign number: alerts are for Indian mobiles; the reply explains the other ways


def _finish_duplicate(message: InboundMessage, record: MessageRecord) -> None:
    """A redelivery records nothing; it only finishes follow-ups a crash may have left unsent."""
    seen = tips.find_message(record.message_key, record.channel)
    if seen is not None and seen.followups_pending:
        _send_followups(message, record, seen.tip_id, opened_tip=seen.opened_tip)


def _send_followups(
    message: InboundMessage, record: MessageRecord, tip_id: str, *, opened_tip: bool, sender_count: int | None = None
) -> None:
    media_jobs = [
        _media_job(tip_id, record.channel, entry, ref) for entry, ref in zip(record.media, message.media, strict=True)
    ]
    if media_jobs:
        queues.enqueue(MEDIA_QUEUE, media_jobs)
    if opened_tip:  # one acknowledgement per tip, not per message or photo; the officers of its area hear of it
        queues.enqueue(
            REPLIES_QUEUE,
            [{"tip_id": tip_id, "sender_count": sender_count}, {"kind": "new_tip_notice", "tip_id": tip_id}],
        )
    tips.mark_followups_done(record.message_key, record.channel)


def _media_job(tip_id: str, channel: Channel, entry: MediaEntry, ref: MediaRef) -> dict[str, Any]:
    return {
        "tip_id": tip_id,
        "media_key": entry.media_key,
        "channel": str(channel),
        "kind": str(entry.kind),
        "media_id": ref.media_id,
        "url": ref.url,
        "mime_type": ref.mime_type,
        "sha256": ref.sha256,
    }


def _to_record(message: InboundMessage, received_at: datetime) -> MessageRecord:
    key = privacy.message_key(message.channel, message.external_id)
    texts = [message.text] if message.text else []
    texts += [ref.caption for ref in message.media if ref.caption]
    return MessageRecord(
        message_key=key,
        channel=message.channel,
        sender_pseudonym=privacy.sender_pseudonym(message.channel, message.sender_id),
        received_at=received_at,
        sent_at=message.sent_at,
        texts=tuple(texts),
        location=message.location,
        media=tuple(
            MediaEntry(media_key=f"{key[:20]}-{index}", kind=ref.kind, caption=ref.caption, filename=ref.filename)
            for index, ref in enumerate(message.media)
        ),
        forwarded=message.forwarded,
    )
