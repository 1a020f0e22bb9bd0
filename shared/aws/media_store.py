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
