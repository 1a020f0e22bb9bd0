"""The public bucket of published wanted-notice photos (served through CloudFront in AWS)."""

from __future__ import annotations

from shared import config
from shared.aws.clients import client
from shared.errors import StorageUnavailableError

# Edges and phones may keep a photo this long after a notice is closed: short, so that a captured person's face
# disappears within minutes everywhere.
CACHE_CONTROL = "public, max-age=300"


def put_jpeg(key: str, data: bytes) -> None:
    client("s3").put_object(
        Bucket=config.get("PUBLIC_MEDIA_BUCKET_NAME"),
        Key=key,
        Body=data,
        ContentType="image/jpeg",
        CacheControl=CACHE_CONTROL,
    )


def delete_prefix(prefix: str) -> None:
    """Delete every object under ``prefix`` (a notice's renditions: a handful)."""
    delete_except(prefix, keep=None)


def delete_except(prefix: str, keep: str | None) -> None:
    """Delete every object under ``prefix`` whose key does not start with ``keep``."""
    bucket = config.get("PUBLIC_MEDIA_BUCKET_NAME")
    listing = client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    keys = [item["Key"] for item in listing.get("Contents", []) if not (keep and item["Key"].startswith(keep))]
    if keys:
        delete(keys)


def delete(keys: list[str]) -> None:
    response = client("s3").delete_objects(
        Bucket=config.get("PUBLIC_MEDIA_BUCKET_NAME"), Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
    )
    if response.get("Errors"):
        raise StorageUnavailableError(f"{len(response['Errors'])} public photos could not be deleted; try again")
