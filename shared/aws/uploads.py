"""Browser uploads straight to the private bucket through S3 presigned POSTs (no photo passes through Lambda)."""

from __future__ import annotations

from typing import Any

from shared import config
from shared.aws.clients import client


def presigned_post(key: str, *, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """A POST policy for exactly ``key``, at most ``max_bytes``, an image/ content type, for ``expires_in`` seconds.

    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html: boto3 adds the bucket and
    key conditions; the browser must send the Content-Type field it chose (image/jpeg, image/png, …).
    """
    return client("s3").generate_presigned_post(
        Bucket=config.get("MEDIA_BUCKET_NAME"),
        Key=key,
        Conditions=[["content-length-range", 1, max_bytes], ["starts-with", "$Content-Type", "image/"]],
        ExpiresIn=expires_in,
    )


def read(key: str, max_bytes: int) -> bytes | None:
    """The uploaded object, or None if it is gone (processed before); ValueError if larger than allowed."""
    s3 = client("s3")
    try:
        response = s3.get_object(Bucket=config.get("MEDIA_BUCKET_NAME"), Key=key)
    except s3.exceptions.NoSuchKey:
        return None
    if response["ContentLength"] > max_bytes:
        response["Body"].close()
        raise ValueError(f"the upload is {response['ContentLength']} bytes; at most {max_bytes}")
    return response["Body"].read()


def discard(key: str) -> None:
    client("s3").delete_object(Bucket=config.get("MEDIA_BUCKET_NAME"), Key=key)
