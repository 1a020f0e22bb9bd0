"""The durable inbox: raw webhook bodies in the private bucket, announced on the deliveries queue."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from shared import config
from shared.aws.clients import client
from shared.domain import Channel
from shared.errors import StorageUnavailableError

INBOX_PREFIX = "inbox/"


def store(channel: Channel, raw_body: bytes, received_at: datetime) -> str:
    """Keep the body exactly as received and queue it for the worker: two AWS requests, nothing else."""
    key = f"{INBOX_PREFIX}{channel}/{received_at:%Y/%m/%d}/{uuid.uuid4()}.json"
    announcement = {"channel": str(channel), "inbox_key": key, "received_at": received_at.isoformat()}
    try:
        # The bucket's default encryption (SSE-KMS) and its lifecycle rule for inbox/ apply.
        client("s3").put_object(
            Bucket=config.get("MEDIA_BUCKET_NAME"), Key=key, Body=raw_body, ContentType="application/json"
        )
        client("sqs").send_message(QueueUrl=config.get("DELIVERIES_QUEUE_URL"), MessageBody=json.dumps(announcement))
    except (BotoCoreError, ClientError) as error:
        raise StorageUnavailableError(f"inbox write failed: {type(error).__name__}") from error
    return key


def read(key: str) -> bytes | None:
    """The stored body, or None when it was processed and discarded already."""
    try:
        return client("s3").get_object(Bucket=config.get("MEDIA_BUCKET_NAME"), Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def discard(key: str) -> None:
    """Delete a processed body: it holds phone numbers, and its tips are recorded by now."""
    client("s3").delete_object(Bucket=config.get("MEDIA_BUCKET_NAME"), Key=key)
