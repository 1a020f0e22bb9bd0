"""Small helpers shared by functional tests."""

from __future__ import annotations

from typing import Any

import boto3

from shared.channels import meta
from tests.conftest import load_event

PHOTO = "tests/events/media/photo.jpg"


def post_whatsapp(api: Any, body: bytes | str) -> Any:
    """POST a WhatsApp delivery signed with the test app secret; ``body`` is raw bytes or a fixture name."""
    raw = load_event("whatsapp", body) if isinstance(body, str) else body
    return api.http.post(
        "/webhooks/whatsapp",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(raw)},
        body=raw,
    )


def table_items(stack: Any) -> list[dict[str, Any]]:
    """Every item of the tips table (a Scan is fine in a test, never in a request path)."""
    client = boto3.client("dynamodb", region_name="ap-south-1")
    pages = client.get_paginator("scan").paginate(TableName=stack.physical["TipsTable"]["Ref"])
    return [item for page in pages for item in page["Items"]]


def tips(stack: Any) -> list[dict[str, Any]]:
    return [item for item in table_items(stack) if item["sk"]["S"] == "TIP"]


def media_items(stack: Any) -> list[dict[str, Any]]:
    return [item for item in table_items(stack) if item["sk"]["S"].startswith("MEDIA#")]


CLEAN_COPY_SUFFIX = ".clean.jpg"


def all_bucket_keys(stack: Any, prefix: str = "") -> list[str]:
    client = boto3.client("s3", region_name="ap-south-1")
    response = client.list_objects_v2(Bucket=stack.physical["MediaBucket"]["Ref"], Prefix=prefix)
    return [item["Key"] for item in response.get("Contents", [])]


def bucket_keys(stack: Any, prefix: str = "") -> list[str]:
    """Keys of the bucket, without the officers' copies of photos (see ``officer_copies``)."""
    return [key for key in all_bucket_keys(stack, prefix) if not key.endswith(CLEAN_COPY_SUFFIX)]


def officer_copies(stack: Any, prefix: str = "") -> list[str]:
    return [key for key in all_bucket_keys(stack, prefix) if key.endswith(CLEAN_COPY_SUFFIX)]


def add_album_media(fake_graph: Any) -> bytes:
    photo = open(PHOTO, "rb").read()  # noqa: SIM115 - tiny file
    for index in (1, 2, 3):
        fake_graph.add_media(f"12100000000001{index:02d}", photo, "image/jpeg")
    return photo
