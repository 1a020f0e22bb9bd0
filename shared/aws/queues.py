"""Follow-up jobs (media downloads, replies) on SQS."""

from __future__ import annotations

import json
from typing import Any

from shared import config
from shared.aws.clients import client

_SQS_BATCH_LIMIT = 10


def enqueue(queue_setting: str, jobs: list[dict[str, Any]]) -> None:
    """Send ``jobs`` to the queue whose URL is the setting ``queue_setting``; raise if any is not accepted."""
    queue_url = config.get(queue_setting)
    for start in range(0, len(jobs), _SQS_BATCH_LIMIT):
        chunk = jobs[start : start + _SQS_BATCH_LIMIT]
        response = client("sqs").send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "MessageBody": json.dumps(job)} for index, job in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"{len(response['Failed'])} jobs were not accepted by {queue_setting}")
