"""Broadcast events on their own SNS topic (BROADCAST_EVENTS_TOPIC_ARN): a notice was broadcast, or captured.

The topic fans out to the social-posts queue (SNS -> SQS, raw delivery) and its function (shared/social.py); more
consumers can subscribe without the broadcast sender knowing them. Events carry ids only.
"""

from __future__ import annotations

import json

from shared import config
from shared.aws.clients import client

BROADCAST_SENT = "broadcast_sent"
NOTICE_CAPTURED = "notice_captured"


def publish(event: dict[str, str]) -> str:
    """Publish one event; its SNS MessageId."""
    response = client("sns").publish(TopicArn=config.get("BROADCAST_EVENTS_TOPIC_ARN"), Message=json.dumps(event))
    return str(response["MessageId"])


def broadcast_sent(broadcast_id: str, wanted_id: str) -> str:
    return publish({"event": BROADCAST_SENT, "broadcast_id": broadcast_id, "wanted_id": wanted_id})


def notice_captured(wanted_id: str) -> str:
    return publish({"event": NOTICE_CAPTURED, "wanted_id": wanted_id})
