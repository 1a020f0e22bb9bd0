"""PynamoDB items of the single Sampark table.

One table, keys ``pk``/``sk``:
- ``TIP#<id>`` / ``TIP``            the tip (text, location, counts, sealed reply handle)
- ``TIP#<id>`` / ``MEDIA#<key>``    one attachment of the tip
- ``REF#<reference>`` / ``REF``     reserves a reference number
- ``MSG#<channel>#<hash>`` / ``MSG`` dedupe record of one platform message (keyed hash, no text)
- ``SENDER#<pseudonym>`` / ``OPEN#<channel>``  the sender's open tip, for grouping follow-ups and albums
- ``TIP#<id>`` / ``NOTE#<time>#<id>``      an officer's internal note on the tip
- ``TIP#<id>`` / ``FOLLOWUP#<time>#<id>``  a question the police sent (or will send) to the informant
- ``SUBSCRIPTION#<id>`` / ``SUBSCRIPTION``  a citizen's sign-up for one area's alerts (number or address sealed)
- ``CONTACT#<hash>`` / ``CONTACT``   a number's or address's home subscription (one area each)
- ``OPTOUT#<hash>`` / ``OPTOUT``     the opt-out list: a number or address that left (until it signs up again)
- ``CONSENT#<hash>`` / ``<time>#<event>#<id>``  the consent record, kept without expiry
- ``SUBSCRIBERS`` / ``<area>#<language>#<channel>``  active subscriptions counted, for the statistics
- ``BROADCAST#<id>`` / ``BROADCAST``  a broadcast: who, what, to whom, its state
- ``BROADCAST#<id>`` / ``TOPIC#<topic>``  its publish to one topic (claimed, then SNS's message id)
- ``IDEMPOTENCY#<subject>#<key hash>`` / ``IDEMPOTENCY``  a supervisor's Idempotency-Key, bound to one broadcast
- ``SNSMSG#<message id>`` / ``SNSMSG``  the broadcast and topic of an SNS publish, for its delivery-status logs
- ``WANTED#<id>`` / ``SOCIAL#<platform>#<kind>``  the notice's post on Facebook or X (claimed, then its id or error)
Officer queries use sparse indexes keyed by status, area and channel (see README, "Tip lists"), never a Scan;
only tip items carry their key attributes, so notes, media and follow-ups never appear in them.
The audit trail is a table of its own (``AuditItem``): append-only, kept without expiry.
Table names are bound on first use (``bind``), never at import time.
"""

from __future__ import annotations

import os

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from shared import config

UNBOUND_TABLE = "sampark-unbound"


class _Meta:
    table_name = UNBOUND_TABLE
    billing_mode = PAY_PER_REQUEST_BILLING_MODE


# What a tip list shows; the list indexes copy only these (and their keys). The sender's pseudonym, the sealed reply
# handle and the acknowledgement state stay in the table, and appending a message rewrites less in each index.
LIST_FIELDS = (
    "tip_id",
    "reference",
    "status",
    "channel",
    "area_id",
    "received_at",
    "texts",
    "media_count",
    "location",
    "assignee",
    "wanted_id",
)


def _list_projection(*index_keys: str) -> IncludeProjection:
    return IncludeProjection([name for name in LIST_FIELDS if name not in index_keys])


class StatusIndex(GlobalSecondaryIndex["TipItem"]):
    class Meta:
        index_name = "by-status"
        projection = _list_projection("status")

    status = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class AreaStatusIndex(GlobalSecondaryIndex["TipItem"]):
    class Meta:
        index_name = "by-area-status"
        projection = _list_projection("area_status")

    area_status = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class AreaIndex(GlobalSecondaryIndex["TipItem"]):
    class Meta:
        index_name = "by-area"
        projection = _list_projection("area_key")

    area_key = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class ChannelIndex(GlobalSecondaryIndex["TipItem"]):
    class Meta:
        index_name = "by-channel"
        projection = _list_projection("channel")

    channel = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class ChannelStatusIndex(GlobalSecondaryIndex["TipItem"]):
    class Meta:
        index_name = "by-channel-status"
        projection = _list_projection("channel_status")

    channel_status = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class WantedIndex(GlobalSecondaryIndex["TipItem"]):
    """Tips linked to one wanted notice (supervisors)."""

    class Meta:
        index_name = "by-wanted"
        projection = _list_projection("wanted_id")

    wanted_id = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class WantedAreaIndex(GlobalSecondaryIndex["TipItem"]):
    """Tips linked to one wanted notice in one area (officers)."""

    class Meta:
        index_name = "by-wanted-area"
        projection = _list_projection("wanted_area")

    wanted_area = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class ReceivedIndex(GlobalSecondaryIndex["TipItem"]):
    """Every tip, newest first. One partition ("TIP"): a district writes a few tips a minute, far below the
    1,000 writes per second a DynamoDB partition takes."""

    class Meta:
        index_name = "by-received"
        projection = _list_projection("listed")

    listed = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class LocationAttribute(MapAttribute[str, object]):
    latitude = NumberAttribute()
    longitude = NumberAttribute()
    name = UnicodeAttribute(null=True)
    address = UnicodeAttribute(null=True)


class TipItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="TIP")
    tip_id = UnicodeAttribute()
    reference = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()
    area_id = UnicodeAttribute(null=True)
    area_status = UnicodeAttribute()  # "<area id or none>#<status>", key of by-area-status
    area_key = UnicodeAttribute(null=True)  # "<area id or none>", key of by-area
    channel_status = UnicodeAttribute(null=True)  # "<channel>#<status>", key of by-channel-status
    listed = UnicodeAttribute(null=True)  # always "TIP", key of by-received
    assignee = UnicodeAttribute(null=True)  # the officer (Cognito username) working the tip
    wanted_id = UnicodeAttribute(null=True)  # the wanted notice the tip is about, key of by-wanted
    wanted_area = UnicodeAttribute(null=True)  # "<wanted id>#<area id or none>", key of by-wanted-area
    updated_at = UTCDateTimeAttribute(null=True)
    received_at = UTCDateTimeAttribute()
    received_key = UnicodeAttribute()  # "<received_at ISO>#<tip id>", sort key of both indexes
    sent_at = UTCDateTimeAttribute()
    last_message_at = UTCDateTimeAttribute()
    texts = ListAttribute(of=UnicodeAttribute, default=list)  # message texts and captions, in arrival order
    text_times = ListAttribute(of=UnicodeAttribute, null=True)  # when each of ``texts`` arrived (ISO 8601)
    location = LocationAttribute(null=True)
    message_count = NumberAttribute(default=0)
    media_count = NumberAttribute(default=0)
    media_missing = NumberAttribute(default=0)
    forwarded = BooleanAttribute(default=False)
    public_post = BooleanAttribute(null=True)  # the informant wrote in public (an X mention): no private follow-ups
    sender_pseudonym = UnicodeAttribute()
    reply_handle = BinaryAttribute(legacy_encoding=False)  # KMS ciphertext; only the reply sender decrypts it
    ack_status = UnicodeAttribute()
    ack_sent_at = UTCDateTimeAttribute(null=True)
    ack_lease_until = NumberAttribute(null=True)  # epoch seconds; a crashed sender's claim lapses then

    by_status = StatusIndex()
    by_area_status = AreaStatusIndex()
    by_area = AreaIndex()
    by_channel = ChannelIndex()
    by_channel_status = ChannelStatusIndex()
    by_received = ReceivedIndex()
    by_wanted = WantedIndex()
    by_wanted_area = WantedAreaIndex()


class MediaItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    media_key = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute(attr_name="media_status")  # not "status": keeps media out of by-status
    caption = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    size = NumberAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    s3_key = UnicodeAttribute(null=True)
    failure = UnicodeAttribute(null=True)
    clean_s3_key = UnicodeAttribute(null=True)  # a photo's copy without metadata, the one officers see


class ReferenceItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="REF")
    tip_id = UnicodeAttribute()


class MessageItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="MSG")
    tip_id = UnicodeAttribute()
    opened_tip = BooleanAttribute(default=False)
    followups_pending = BooleanAttribute(default=True)
    expires_at = TTLAttribute()


class OpenTipItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tip_id = UnicodeAttribute()
    open_until = NumberAttribute()  # epoch seconds
    expires_at = TTLAttribute()


class RateItem(Model):
    """Messages of one sender in one fixed window (``SENDER#<pseudonym>`` / ``RATE#<channel>#<window start>``)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    count = NumberAttribute(default=0)
    notice_sent = BooleanAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class NoteItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    note_id = UnicodeAttribute()
    author = UnicodeAttribute()
    written_at = UTCDateTimeAttribute()
    text = UnicodeAttribute()


class FollowUpItem(Model):
    """A question to the informant. Its state is ``followup_status``, never ``status`` (that would index it)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    followup_id = UnicodeAttribute()
    author = UnicodeAttribute()
    written_at = UTCDateTimeAttribute()
    text = UnicodeAttribute()
    followup_status = UnicodeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    failure = UnicodeAttribute(null=True)


class LocalizedAttribute(MapAttribute[str, object]):
    en = UnicodeAttribute()
    hi = UnicodeAttribute()


class WantedListingIndex(GlobalSecondaryIndex["WantedItem"]):
    """The public gallery: active notices only (the key is removed when a notice is closed), newest first."""

    class Meta:
        index_name = "by-wanted-listing"
        projection = AllProjection()

    wanted_listing = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class WantedItem(Model):
    """``WANTED#<id>`` / ``WANTED``: a wanted notice. Its state is ``wanted_status`` (``status`` would index it)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="WANTED")
    wanted_id = UnicodeAttribute()
    number = NumberAttribute()
    name = UnicodeAttribute()
    aliases = ListAttribute(of=UnicodeAttribute, default=list)
    areas = ListAttribute(of=UnicodeAttribute, default=list)
    crime = LocalizedAttribute()
    description = LocalizedAttribute()
    reward = LocalizedAttribute(null=True)
    caution = LocalizedAttribute(null=True)
    wanted_status = UnicodeAttribute()
    wanted_listing = UnicodeAttribute(null=True)  # "ACTIVE" while listed publicly
    created_key = UnicodeAttribute()  # "<created_at ISO>#<id>"
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute(null=True)
    photo_status = UnicodeAttribute()
    photo_problem = UnicodeAttribute(null=True)
    photo_upload_key = UnicodeAttribute(null=True)  # the upload the notice waits for (older ones are ignored)
    photo_key = UnicodeAttribute(null=True)  # public rendition, about 1080 px
    thumbnail_key = UnicodeAttribute(null=True)

    by_listing = WantedListingIndex()


class WantedNumberItem(Model):
    """``WANTEDNO#<number>`` / ``WANTEDNO``: reserves a notice number and finds the notice a citizen quotes."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="WANTEDNO")
    wanted_id = UnicodeAttribute()


class CounterItem(Model):
    """``COUNTER#<name>`` / ``COUNTER``: the last number handed out."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="COUNTER")
    value = NumberAttribute(default=0)


class SnsSyncIndex(GlobalSecondaryIndex["SubscriptionItem"]):
    """Subscriptions the scheduled sync has business with on SNS: sparse, keys only."""

    class Meta:
        index_name = "by-sns-state"
        projection = KeysOnlyProjection()

    # "pending" / "active": an email subscription (SNS's confirmation and unsubscribe links are checked);
    # "cleanup": an ended one whose SNS subscription may still exist (removed when it is gone).
    sns_state = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class SubscriptionItem(Model):
    """``SUBSCRIPTION#<id>`` / ``SUBSCRIPTION``: one sign-up. The number or address only sealed (KMS) and hashed."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="SUBSCRIPTION")
    subscription_id = UnicodeAttribute()
    contact_kind = UnicodeAttribute()  # "phone" (SMS alerts) or "email"
    contact_hash = UnicodeAttribute()
    sealed_contact = BinaryAttribute(legacy_encoding=False)
    area_id = UnicodeAttribute()
    language = UnicodeAttribute()
    source = UnicodeAttribute()  # where the sign-up came from: web, whatsapp, sms
    subscription_status = UnicodeAttribute()  # pending, active, ended
    token_hash = UnicodeAttribute()
    code_hash = UnicodeAttribute(null=True)
    code_expires_at = NumberAttribute(null=True)
    code_attempts = NumberAttribute(default=0)
    sns_subscription_arn = UnicodeAttribute(null=True)
    replaces_id = UnicodeAttribute(null=True)  # the home subscription this one moved away from
    ended_reason = UnicodeAttribute(null=True)
    sns_state = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)  # pending and ended sign-ups go; active ones stay
    by_sns_state = SnsSyncIndex()


class ContactItem(Model):
    """``CONTACT#<hash>`` / ``CONTACT``: the number's or address's one home subscription (none when it left)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="CONTACT")
    home_subscription_id = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()


class OptOutItem(Model):
    """``OPTOUT#<hash>`` / ``OPTOUT``: the number or address left (``opted_out_at``); a fresh verified sign-up
    lifts it (``lifted_at``, later). Never deleted: the functions may not delete from the table."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="OPTOUT")
    opted_out_at = UTCDateTimeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    lifted_at = UTCDateTimeAttribute(null=True)


class ConsentItem(Model):
    """``CONSENT#<hash>`` / ``<time>#<event>#<id>``: one sign-up, verification, change or withdrawal; never expires."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    event = UnicodeAttribute()
    channel = UnicodeAttribute()  # where it happened: web, whatsapp, sms, email (SNS's link)
    subscription_id = UnicodeAttribute(null=True)
    contact_kind = UnicodeAttribute()
    area_id = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute()


class SubscriberCountItem(Model):
    """``SUBSCRIBERS`` / ``<area>#<language>#<channel>``: active subscriptions, changed in their transactions."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True, default="SUBSCRIBERS")
    sk = UnicodeAttribute(range_key=True)
    area_id = UnicodeAttribute()
    language = UnicodeAttribute()
    channel = UnicodeAttribute()
    active = NumberAttribute(default=0)


class BroadcastListingIndex(GlobalSecondaryIndex["BroadcastItem"]):
    class Meta:
        index_name = "by-broadcast-listing"
        projection = AllProjection()

    broadcast_listing = UnicodeAttribute(hash_key=True)  # always "BROADCAST": broadcasts are few (a few a month)
    created_key = UnicodeAttribute(range_key=True)


class BroadcastItem(Model):
    """``BROADCAST#<id>`` / ``BROADCAST``: the request as sent, who sent and approved it, its audience and state."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="BROADCAST")
    broadcast_id = UnicodeAttribute()
    broadcast_status = UnicodeAttribute()
    request = UnicodeAttribute()  # the normalised request, JSON
    audience = UnicodeAttribute()  # per area, language and channel, JSON
    audience_total = NumberAttribute()
    created_by = UnicodeAttribute()
    created_by_subject = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    approved_by = UnicodeAttribute(null=True)
    approved_by_subject = UnicodeAttribute(null=True)
    approved_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    problem = UnicodeAttribute(null=True)
    broadcast_listing = UnicodeAttribute(default="BROADCAST")
    created_key = UnicodeAttribute()
    by_listing = BroadcastListingIndex()


class BroadcastTopicItem(Model):
    """``BROADCAST#<id>`` / ``TOPIC#<topic name>``: one publish, claimed before it is made, then its message id."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    claimed_until = NumberAttribute(null=True)  # epoch seconds: another sender may take it over after this
    message_id = UnicodeAttribute(null=True)
    published_at = UTCDateTimeAttribute(null=True)
    delivered = NumberAttribute(null=True)  # SMS delivery-status logs: SUCCESS lines counted
    failed = NumberAttribute(null=True)  # and FAILURE lines


class PublishedMessageItem(Model):
    """``SNSMSG#<message id>`` / ``SNSMSG``: which broadcast's topic a publish was (the delivery logs name only it)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="SNSMSG")
    broadcast_id = UnicodeAttribute()
    topic = UnicodeAttribute()


class IdempotencyItem(Model):
    """``IDEMPOTENCY#<subject>#<key hash>`` / ``IDEMPOTENCY``: the broadcast a supervisor's key created."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="IDEMPOTENCY")
    broadcast_id = UnicodeAttribute()
    request_hash = UnicodeAttribute()


class SocialPostItem(Model):
    """``WANTED#<id>`` / ``SOCIAL#<platform>#<kind>``: one post of a notice, claimed before the platform is called.

    No ``status``, ``channel`` or ``wanted_id`` attribute: those name tip index keys.
    """

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    platform = UnicodeAttribute()
    kind = UnicodeAttribute()
    post_status = UnicodeAttribute()
    claimed_until = NumberAttribute(null=True)  # epoch seconds: a retry may take the post over after this
    post_id = UnicodeAttribute(null=True)
    problem = UnicodeAttribute(null=True)
    broadcast_id = UnicodeAttribute(null=True)
    posted_at = UTCDateTimeAttribute(null=True)


class ActorIndex(GlobalSecondaryIndex["AuditItem"]):
    class Meta:
        index_name = "by-actor"
        projection = AllProjection()

    actor = UnicodeAttribute(hash_key=True)
    at_key = UnicodeAttribute(range_key=True)


class AuditTipIndex(GlobalSecondaryIndex["AuditItem"]):
    class Meta:
        index_name = "by-tip"
        projection = AllProjection()

    tip_id = UnicodeAttribute(hash_key=True)
    at_key = UnicodeAttribute(range_key=True)


class AuditItem(Model):
    """One access or change, in the audit table: ``day`` (YYYY-MM-DD) / ``at_key`` (``<time>#<entry id>``)."""

    class Meta(_Meta):
        pass

    day = UnicodeAttribute(hash_key=True)
    at_key = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()  # the officer's Cognito username
    actor_subject = UnicodeAttribute()  # Cognito's sub: stable even if a username is reused
    action = UnicodeAttribute()
    tip_id = UnicodeAttribute(null=True)
    detail = MapAttribute[str, object](null=True)

    by_actor = ActorIndex()
    by_tip = AuditTipIndex()


NO_AREA = "none"
LISTED = "TIP"


def tip_index_keys(area_id: str | None, status: str, channel: str, wanted_id: str | None = None) -> dict[str, str]:
    """The values of a tip's index key attributes; every write that changes area, status or notice sets them all."""
    area = area_id or NO_AREA
    keys = {
        "area_status": f"{area}#{status}",
        "area_key": area,
        "channel_status": f"{channel}#{status}",
        "listed": LISTED,
    }
    if wanted_id:
        keys |= {"wanted_id": wanted_id, "wanted_area": f"{wanted_id}#{area}"}
    return keys


ALL_MODELS: tuple[type[Model], ...] = (
    TipItem,
    MediaItem,
    ReferenceItem,
    MessageItem,
    OpenTipItem,
    RateItem,
    NoteItem,
    FollowUpItem,
    WantedItem,
    WantedNumberItem,
    CounterItem,
    SubscriptionItem,
    ContactItem,
    OptOutItem,
    ConsentItem,
    SubscriberCountItem,
    BroadcastItem,
    BroadcastTopicItem,
    IdempotencyItem,
    SocialPostItem,
    PublishedMessageItem,
)


def bind() -> None:
    """Point every model at the configured table (idempotent; called lazily by the repository)."""
    _bind_models(ALL_MODELS, config.get("TIPS_TABLE_NAME"))


def bind_audit() -> None:
    _bind_models((AuditItem,), config.get("AUDIT_TABLE_NAME"))


def _bind_models(models: tuple[type[Model], ...], table_name: str) -> None:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "ap-south-1"
    for model in models:
        if model.Meta.table_name != table_name or getattr(model.Meta, "region", None) != region:
            model.Meta.table_name = table_name
            model.Meta.region = region
            model._connection = None
