"""Channel-agnostic domain types. No AWS, no platform JSON: adapters translate at the edge."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
class OutgoingReply:
    """One thing Sampark says to a citizen, in both forms a channel may need.

    Chat channels send ``text``. SMS to India cannot carry free text, only a DLT-registered template: it sends the
    template of ``purpose`` filled with ``values`` (variable name, value) instead (shared/sms.py).
    """

    purpose: str
    text: str
    values: tuple[tuple[str, str], ...] = ()


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
    """Where a tip stands in the officers' workflow."""

    NEW = "new"
    IN_REVIEW = "in_review"
    ACTIONED = "actioned"
    CLOSED = "closed"
    SPAM = "spam"


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
    public_post: bool = False  # the first message was public (an X mention)
    wanted_id: str | None = None  # the wanted notice the first message quotes, if any


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
    area_id: str | None = None
    wanted_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SenderRate:
    """How many messages a sender sent in the current window, and whether they were told about the limit."""

    count: int
    notice_sent: bool


# --- officers' view of tips ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TipListQuery:
    """One page of a tip list. ``area_id`` "none" asks for tips without an area."""

    status: TipStatus | None = None
    area_id: str | None = None
    channel: Channel | None = None
    wanted_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 25
    after: str | None = None  # the received_key of the last tip of the previous page


@dataclass(frozen=True, kw_only=True)
class TipSummary:
    tip_id: str
    reference: str
    status: TipStatus
    channel: Channel
    area_id: str | None
    received_at: datetime
    texts: tuple[str, ...]
    media_count: int
    location: Location | None
    assignee: str | None
    received_key: str
    wanted_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TipPage:
    tips: tuple[TipSummary, ...]
    after: str | None  # None on the last page
    items_read: int  # what DynamoDB read (ScannedCount) to serve the page


@dataclass(frozen=True, kw_only=True)
class InformantText:
    at: datetime
    text: str


@dataclass(frozen=True, kw_only=True)
class Note:
    note_id: str
    author: str
    written_at: datetime
    text: str


class FollowUpStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class FollowUp:
    followup_id: str
    author: str
    written_at: datetime
    text: str
    status: FollowUpStatus
    sent_at: datetime | None = None
    failure: str | None = None


@dataclass(frozen=True, kw_only=True)
class StoredMedia:
    media_key: str
    kind: MediaKind
    status: MediaStatus
    caption: str | None = None
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    s3_key: str | None = None
    clean_s3_key: str | None = None
    failure: str | None = None


@dataclass(frozen=True, kw_only=True)
class TipFile:
    """Everything about one tip that officers may see, and the few facts the API needs to act on it."""

    summary: TipSummary
    texts: tuple[InformantText, ...]
    media: tuple[StoredMedia, ...]
    notes: tuple[Note, ...]
    followups: tuple[FollowUp, ...]
    last_message_at: datetime
    message_count: int
    forwarded: bool
    public_post: bool
    updated_at: datetime | None
    # Never shown to officers; used to let the informant's answer to a follow-up join this tip.
    sender_pseudonym: str


@dataclass(frozen=True, kw_only=True)
class TipChange:
    """A PATCH: only the fields given are changed (``assignee`` None with ``unassign`` clears it)."""

    status: TipStatus | None = None
    area_id: str | None = None
    assignee: str | None = None
    unassign: bool = False
    wanted_id: str | None = None
    unlink_wanted: bool = False


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    at: datetime
    actor: str
    actor_subject: str
    action: str
    tip_id: str | None = None
    detail: dict[str, object] = field(default_factory=dict)


# --- wanted notices -----------------------------------------------------------------------------------------------


class WantedStatus(enum.StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    WITHDRAWN = "withdrawn"


class PhotoStatus(enum.StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    PUBLISHED = "published"


@dataclass(frozen=True, kw_only=True)
class Localized:
    en: str
    hi: str


@dataclass(frozen=True, kw_only=True)
class WantedDetails:
    """What a supervisor writes on a notice."""

    name: str
    aliases: tuple[str, ...]
    areas: tuple[str, ...]
    crime: Localized
    description: Localized
    reward: Localized | None = None
    caution: Localized | None = None


@dataclass(frozen=True, kw_only=True)
class WantedNotice:
    wanted_id: str
    number: int
    details: WantedDetails
    status: WantedStatus
    created_at: datetime
    created_by: str
    updated_at: datetime | None
    photo_status: PhotoStatus
    photo_problem: str | None
    photo_upload_key: str | None
    photo_key: str | None
    thumbnail_key: str | None
    created_key: str


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the one-time code (SMS) or SNS's confirmation link (email)
    ACTIVE = "active"  # on its SNS topic: receives alerts
    ENDED = "ended"  # left, moved to another area, or never confirmed


@dataclass(frozen=True, kw_only=True)
class Subscription:
    """A citizen's sign-up for the alerts of one police area, in one language, by SMS (``phone``) or ``email``."""

    subscription_id: str
    contact_kind: str
    contact_hash: str
    sealed_contact: bytes
    area_id: str
    language: str
    source: str  # web, whatsapp, sms
    status: SubscriptionStatus
    token_hash: str
    created_at: datetime
    code_hash: str | None = None
    code_expires_at: int | None = None
    code_attempts: int = 0
    sns_subscription_arn: str | None = None
    replaces_id: str | None = None

    @property
    def channel(self) -> str:
        """The alert channel: SMS for a phone number, email for an address."""
        return "sms" if self.contact_kind == "phone" else "email"


@dataclass(frozen=True, kw_only=True)
class ConsentEvent:
    """One line of the consent record: what happened to whose subscription, when and where."""

    event: str  # signed_up, verified, moved, withdrawn, opted_out, lapsed
    channel: str  # web, whatsapp, sms, email
    contact_hash: str
    contact_kind: str
    at: datetime
    subscription_id: str | None = None
    area_id: str | None = None
    language: str | None = None


@dataclass(frozen=True, kw_only=True)
class SubscriberCount:
    area_id: str
    language: str
    channel: str
    active: int


# --- broadcasts ---------------------------------------------------------------------------------------------------


class BroadcastStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"  # a large audience waits for a second supervisor
    SENDING = "sending"  # queued: the broadcast sender publishes to each topic once
    SENT = "sent"  # every topic published (SNS accepted; delivery is counted apart)
    CANCELLED = "cancelled"  # nothing more is sent (e.g. the notice was captured before sending)


@dataclass(frozen=True, kw_only=True)
class Broadcast:
    broadcast_id: str
    status: BroadcastStatus
    request: dict[str, Any]  # the normalised request: notice or template, areas, languages, channels
    audience: list[dict[str, Any]]  # per area, language and channel
    audience_total: int
    created_by: str
    created_by_subject: str
    created_at: datetime
    approved_by: str | None = None
    approved_by_subject: str | None = None
    approved_at: datetime | None = None
    finished_at: datetime | None = None
    problem: str | None = None
    sns_message_ids: tuple[tuple[str, str], ...] = ()  # (topic name, message id), as published
    delivered: int = 0  # SMS deliveries SNS logged as SUCCESS (AWS only: its delivery-status logs)
    failed: int = 0


class SocialPostStatus(enum.StrEnum):
    CLAIMED = "claimed"  # being posted (or its poster died: the claim lapses and a retry takes it over)
    POSTED = "posted"
    FAILED = "failed"  # the platform refused it for good


@dataclass(frozen=True, kw_only=True)
class SocialPost:
    """A wanted notice's post on the police Facebook Page or X account: one per platform and kind."""

    wanted_id: str
    platform: str  # "facebook" or "x"
    kind: str  # "notice" (with the photo) or "captured" (the follow-up)
    status: SocialPostStatus
    post_id: str | None = None
    problem: str | None = None
    broadcast_id: str | None = None  # the broadcast whose sending triggered it
    posted_at: datetime | None = None
    claimed_until: int | None = None  # epoch seconds: a claim is being worked on until then
