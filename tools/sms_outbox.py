"""`make run`'s SMS outbox: every SMS the system sends through moto's SNS, printed and kept in a file.

There is no phone here. moto's SNS keeps each SMS publish (number, text) in its backend; this thread, in the same
process as the moto server, prints each new one and appends it to ``build/local-sms.jsonl`` ({"to", "text"} per
line), where a person reads their one-time code and the end-to-end tests read theirs.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tools.resources import ACCOUNT_ID

POLL_SECONDS = 0.3


def sent_sms(region: str) -> dict[str, tuple[str, str]]:
    """moto's record: message id -> (number, text), in sending order (an internal API of moto's SNS backend)."""
    from moto.sns.models import sns_backends

    return dict(sns_backends[ACCOUNT_ID][region].sms_messages)


def watch(region: str, outbox: Path, stop: threading.Event) -> None:
    """Until ``stop``, write each SMS moto's SNS sends to ``outbox`` and print it."""
    outbox.parent.mkdir(parents=True, exist_ok=True)
    outbox.write_text("", encoding="utf-8")
    seen: set[str] = set()
    while not stop.wait(POLL_SECONDS):
        new = [(message_id, sms) for message_id, sms in sent_sms(region).items() if message_id not in seen]
        with outbox.open("a", encoding="utf-8") as lines:
            for message_id, (number, text) in new:
                seen.add(message_id)
                lines.write(json.dumps({"to": number, "text": text}, ensure_ascii=False) + "\n")
                print(f"SMS to {number}: {text}", flush=True)


def start(region: str, outbox: Path) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(region, outbox, stop), name="sms-outbox", daemon=True)
    thread.start()
    return stop, thread
