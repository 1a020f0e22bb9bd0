"""Use case of the webhooks: make a signed delivery durable before the platform gets its 200."""

from __future__ import annotations

import json
from datetime import datetime

from shared import clock
from shared.aws import inbox
from shared.domain import Channel
from shared.errors import MalformedPayloadError
from shared.observability import count


def accept_delivery(channel: Channel, raw_body: bytes, received_at: datetime | None = None) -> str:
    """Keep the raw bytes in the inbox and queue their key: two AWS requests, then the caller answers 200."""
    try:
        json.loads(raw_body)
    except ValueError as error:
        raise MalformedPayloadError("request body is not valid JSON") from error
    key = inbox.store(channel, raw_body, received_at or clock.now())
    count("Deliveries")
    return key
