"""Tip media originals in the private bucket."""

from __future__ import annotations

from typing import IO

from shared import config
from shared.aws.clients import client


def put(key: str, body: IO[bytes], *, content_type: str, sha256_hex: str) -> None:
    # Bucket default encryption (SSE-KMS) applies; the digest travels with the object as evidence metadata.
    client("s3").upload_fileobj(
        body,
        config.get("MEDIA_BUCKET_NAME"),
        key,
        ExtraArgs={"ContentType": content_type, "Metadata": {"sha256": sha256_hex}},
    )


def put_bytes(key: str, data: bytes, *, content_type: str) -> None:
    client("s3").put_object(Bucket=config.get("MEDIA_BUCKET_NAME"), Key=key, Body=data, ContentType=content_type)


def read(key: str) -> bytes:
    return client("s3").get_object(Bucket=config.get("MEDIA_BUCKET_NAME"), Key=key)["Body"].read()


def presigned_get(key: str, expires_in: int) -> str:
    """A GET link signed locally (no AWS request) that stops working after ``expires_in`` seconds."""
    return client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": config.get("MEDIA_BUCKET_NAME"), "Key": key},
        ExpiresIn=expires_in,
    )
