"""PynamoDB items of the single Sampark table.

One table, keys ``pk``/``sk``:
- ``TIP#<id>`` / ``TIP``            the tip (text, location, counts, sealed reply handle)
- ``TIP#<id>`` / ``MEDIA#<key>``    one attachment of the tip
- ``REF#<reference>`` / ``REF``     reserves a reference number
- ``MSG#<channel>#<hash>`` / ``MSG`` dedupe record of one platform message (keyed hash, no text)
- ``SENDER#<pseudonym>`` / ``OPEN#<channel>``  the sender's open tip, for grouping follow-ups and albums
Officer queries use the sparse indexes ``by-status`` and ``by-area-status`` (see README), never a Scan.
The table name is bound on first use (``bind``), never at import time.
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
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shared import config

UNBOUND_TABLE = "sampark-unbound"


class _Meta:
    table_name = UNBOUND_TABLE
    billing_mode = PAY_PER_REQUEST_BILLING_MODE


class StatusIndex(GlobalSecondaryIndex["TipItem"]):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class AreaStatusIndex(GlobalSecondaryIndex["TipItem"]):
    class Meta:
        index_name = "by-area-status"
        projection = AllProjection()

    area_status = UnicodeAttribute(hash_key=True)
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
    received_at = UTCDateTimeAttribute()
    received_key = UnicodeAttribute()  # "<received_at ISO>#<tip id>", sort key of both indexes
    sent_at = UTCDateTimeAttribute()
    last_message_at = UTCDateTimeAttribute()
    texts = ListAttribute(of=UnicodeAttribute, default=list)  # message texts and captions, in arrival order
    location = LocationAttribute(null=True)
    message_count = NumberAttribute(default=0)
    media_count = NumberAttribute(default=0)
    media_missing = NumberAttribute(default=0)
    forwarded = BooleanAttribute(default=False)
    sender_pseudonym = UnicodeAttribute()
    reply_handle = BinaryAttribute(legacy_encoding=False)  # KMS ciphertext; only the reply sender decrypts it
    ack_status = UnicodeAttribute()
    ack_sent_at = UTCDateTimeAttribute(null=True)
    ack_lease_until = NumberAttribute(null=True)  # epoch seconds; a crashed sender's claim lapses then

    by_status = StatusIndex()
    by_area_status = AreaStatusIndex()


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


ALL_MODELS: tuple[type[Model], ...] = (TipItem, MediaItem, ReferenceItem, MessageItem, OpenTipItem, RateItem)


def bind() -> None:
    """Point every model at the configured table (idempotent; called lazily by the repository)."""
    table_name = config.get("TIPS_TABLE_NAME")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "ap-south-1"
    for model in ALL_MODELS:
        if model.Meta.table_name != table_name or getattr(model.Meta, "region", None) != region:
            model.Meta.table_name = table_name
            model.Meta.region = region
            model._connection = None
