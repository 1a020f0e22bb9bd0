"""Channel-agnostic domain types. No AWS, no platform JSON: adapters translate at the edge."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Channel(enum.StrEnum):
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    X = "x"
    SMS = "sms"


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"


@dataclass(frozen=True, kw_only=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, kw_only=True)
class MediaRef:
    """Where a platform keeps one attachment; fetched later by the media worker."""

    kind: MediaKind
    media_id: str | None = None
    url: str | None = None
    mime_type: str | None = None
    sha256: str | None = None  # the platform's claim, base64 or hex
    caption: str | None = None
    filename: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReplyAddress:
    """Everything needed to answer the sender on their channel. Sealed (encrypted) before it is stored."""

    channel: Channel
    recipient: str
    recipient_kind: str  # e.g. "phone" or "bsuid" on WhatsApp, "psid" on Messenger
    in_reply_to: str | None = None  # the platform's id of the message we answer
    # A public post (an X mention): never answered with a reference, which would expose the informant.
    public: bool = False


@dataclass(frozen=True, kw_only=True)
class InboundMessage:
    """One citizen message from any channel. ``sender_id`` and ``external_id`` never leave memory in clear."""

    channel: Channel
    sender_id: str
    external_id: str
    sent_at: datetime
    reply_address: ReplyAddress
    text: str | None = None
    media: tuple[MediaRef, ...] = ()
    location: Location | None = None
    forwarded: bool = False


@dataclass(frozen=True, kw_only=True)
class ParsedDelivery:
    """What one webhook delivery held: the messages to record, and counts of what was skipped and why."""

    messages: tuple[InboundMessage, ...] = ()
    ignored: tuple[str, ...] = field(default=())  # one reason per skipped event, e.g. "status", "unsupported"


class TipStatus(enum.StrEnum):
    NEW = "new"


class MediaStatus(enum.StrEnum):
    PENDING = "pending"
    STORED = "stored"
    MISSING = "missing"  # could not be fetched after retries
    REJECTED = "rejected"  # refused for good: host, type or size


class AckStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one reply sender for a short lease
    SENT = "sent"
    FAILED = "failed"
    LIMITED = "limited"  # the sender was over the message limit: no acknowledgement


@dataclass(frozen=True, kw_only=True)
class MediaEntry:
    """An attachment as recorded on a tip, before its bytes are fetched."""

    media_key: str  # unique within the tip, derived from the message key: a redelivery maps to the same entry
    kind: MediaKind
    caption: str | None = None
    filename: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessageRecord:
    """One inbound message reduced to what may be stored: no platform identifiers in clear."""

    message_key: str  # keyed hash of (channel, platform message id)
    channel: Channel
    sender_pseudonym: str
    received_at: datetime
    sent_at: datetime
    texts: tuple[str, ...] = ()
    location: Location | None = None
    media: tuple[MediaEntry, ...] = ()
    forwarded: bool = False


@dataclass(frozen=True, kw_only=True)
class NewTip:
    tip_id: str
    reference: str
    reply_handle: bytes
    open_until: int  # epoch seconds until which follow-ups join this tip
    area_id: str | None = None  # the police area nearest to the first location, if any


@dataclass(frozen=True, kw_only=True)
class OpenTip:
    tip_id: str
    open_until: int


@dataclass(frozen=True, kw_only=True)
class RecordedMessage:
    """The dedupe record of a message seen before."""

    tip_id: str
    opened_tip: bool
    followups_pending: bool


@dataclass(frozen=True, kw_only=True)
class TipForReply:
    tip_id: str
    reference: str
    channel: Channel
    reply_handle: bytes
    ack_status: AckStatus
    sender_pseudonym: str
    status: str


@dataclass(frozen=True, kw_only=True)
class SenderRate:
    """How many messages a sender sent in the current window, and whether they were told about the limit."""

    count: int
    notice_sent: bool
