"""`make run`'s outbox: every SMS (and alert email) the system sends through moto's SNS, printed and kept in a file.

There is no phone or mailbox here. moto's SNS keeps each direct SMS publish (number, text) in its backend, and each
topic publish in the topic's ``sent_notifications`` — but does not deliver a topic's messages to its SMS or email
subscriptions, which SNS does. This thread, in the same process as the moto server, plays that part: it prints each
new SMS and each topic message once per SMS or email subscriber, and appends them to ``build/local-sms.jsonl``
({"to", "text"} per line, plus "subject" for an email), where a person reads their one-time code and the
end-to-end tests read theirs.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from tools.resources import ACCOUNT_ID

POLL_SECONDS = 0.3
DELIVERED_PROTOCOLS = ("sms", "email")


def sent_sms(region: str) -> dict[str, tuple[str, str]]:
    """moto's record: message id -> (number, text), in sending order (an internal API of moto's SNS backend)."""
    return dict(_backend(region).sms_messages)


def _backend(region: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[ACCOUNT_ID][region]


def new_deliveries(region: str, seen: set[str]) -> list[dict[str, str]]:
    """What SNS would have delivered since the last call: direct SMS, and topic messages to each subscriber."""
    deliveries = []
    for message_id, (number, text) in sent_sms(region).items():
        if message_id not in seen:
            seen.add(message_id)
            deliveries.append({"to": number, "text": text})
    backend = _backend(region)
    for topic in list(backend.topics.values()):
        for message_id, text, subject, *_ in list(topic.sent_notifications):
            if message_id in seen:
                continue
            seen.add(message_id)
            subscriptions, _ = backend.list_subscriptions_by_topic(topic_arn=topic.arn)
            for subscription in subscriptions:
                if subscription.protocol in DELIVERED_PROTOCOLS and _confirmed(subscription):
                    delivery = {"to": subscription.endpoint, "text": text}
                    if subscription.protocol == "email":
                        delivery["subject"] = subject or ""
                    deliveries.append(delivery)
    return deliveries


def _confirmed(subscription: Any) -> bool:
    return str(subscription.attributes.get("PendingConfirmation", "false")).lower() != "true"


def watch(region: str, outbox: Path, stop: threading.Event) -> None:
    """Until ``stop``, write each delivery to ``outbox`` and print it."""
    outbox.parent.mkdir(parents=True, exist_ok=True)
    outbox.write_text("", encoding="utf-8")
    seen: set[str] = set()
    while not stop.wait(POLL_SECONDS):
        deliveries = new_deliveries(region, seen)
        with outbox.open("a", encoding="utf-8") as lines:
            for delivery in deliveries:
                lines.write(json.dumps(delivery, ensure_ascii=False) + "\n")
                kind = "email" if "subject" in delivery else "SMS"
                print(f"{kind} to {delivery['to']}: {delivery.get('subject') or delivery['text']}", flush=True)


def start(region: str, outbox: Path) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(region, outbox, stop), name="sms-outbox", daemon=True)
    thread.start()
    return stop, thread
