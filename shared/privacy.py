"""Informant protection: keyed pseudonyms for grouping, sealed reply addresses for answering.

Raw phone numbers, platform user ids and platform message ids (a wamid is base64 of the sender's number)
never reach a table or a log: they are hashed with a secret pepper, or encrypted under KMS.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from shared import config
from shared.aws import kms
from shared.domain import Channel, ReplyAddress

_DIGEST_HEX_CHARS = 40  # 160 bits: collision-free for any realistic volume, shorter keys


def _keyed_hash(*parts: str) -> str:
    pepper = config.get("SENDER_PEPPER").encode()
    return hmac.new(pepper, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:_DIGEST_HEX_CHARS]


def sender_pseudonym(channel: Channel, sender_id: str) -> str:
    """The same sender on the same channel always maps to the same pseudonym; nobody can reverse it."""
    return _keyed_hash("sender", str(channel), sender_id)


def message_key(channel: Channel, external_id: str) -> str:
    return _keyed_hash("message", str(channel), external_id)


def seal_reply_address(address: ReplyAddress) -> bytes:
    document = {
        "channel": str(address.channel),
        "recipient": address.recipient,
        "recipient_kind": address.recipient_kind,
        "in_reply_to": address.in_reply_to,
        "public": address.public,
    }
    return kms.seal(json.dumps(document).encode())


def open_reply_address(handle: bytes) -> ReplyAddress:
    document = json.loads(kms.unseal(handle))
    return ReplyAddress(
        channel=Channel(document["channel"]),
        recipient=document["recipient"],
        recipient_kind=document["recipient_kind"],
        in_reply_to=document.get("in_reply_to"),
        public=bool(document.get("public", False)),
    )


def contact_hash(kind: str, value: str) -> str:
    """A subscriber's number (E.164) or address (lower case) as a keyed hash: for look-ups and the opt-out list."""
    return _keyed_hash("contact", kind, value)


def seal_contact(value: str) -> bytes:
    return kms.seal(value.encode(), kms.SUBSCRIBER_CONTACT)


def open_contact(sealed: bytes) -> str:
    return kms.unseal(sealed, kms.SUBSCRIBER_CONTACT).decode()


def code_digest(subscription_id: str, code: str) -> str:
    """A one-time code as stored: keyed and bound to its sign-up, so a copy of the table reveals no code."""
    return _keyed_hash("code", subscription_id, code)
