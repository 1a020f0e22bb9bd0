"""Use case of the photo pipeline: check an uploaded wanted-notice photo, strip it, publish its renditions.

S3 tells the uploads queue about every object created under uploads/ (an S3 event notification; Chalice cannot
package S3-triggered functions). The presigned POST's policy already limits size and content type, but a policy is
not a check of the bytes: here the photo is recognised by its magic bytes (JPEG, PNG, WebP), its header size is
checked before decoding (decompression bombs), and it is re-encoded from its pixels, so no EXIF, GPS, camera or
editing metadata can reach the public.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from shared import clock, config, images, wanted
from shared.aws import public_media, uploads
from shared.domain import WantedStatus
from shared.errors import MediaRejectedError
from shared.observability import count, logger
from shared.storage import wanted as store

PHOTO_SIDE = 1080  # px, longer side: sharp on any phone, about 150 KB
THUMBNAIL_SIDE = 320
MIN_SIDE = 200  # smaller than this, a face cannot be recognised
MAX_PIXELS = 40_000_000


def process_notification(body: dict[str, Any], receive_count: int = 1) -> list[str]:
    """One S3 event notification as SQS delivers it; S3's own test event and other keys are ignored."""
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html: object keys are
    # URL-encoded (a space arrives as "+").
    outcomes = []
    for record in body.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        key = unquote_plus(record["s3"]["object"]["key"])
        outcomes.append(process_upload(key, receive_count))
    return outcomes


def process_upload(key: str, receive_count: int = 1) -> str:
    parts = key.removeprefix(wanted.UPLOAD_PREFIX).split("/")
    if not key.startswith(wanted.UPLOAD_PREFIX) or len(parts) != 2:
        logger.warning("upload outside uploads/wanted/<id>/<upload> ignored")
        return "ignored"
    wanted_id, upload_id = parts
    try:
        return _publish(wanted_id, key, upload_id)
    except Exception:
        if receive_count >= config.get_int("MEDIA_MAX_RECEIVES"):
            # The last try before the dead-letter queue: the supervisor must see that the photo did not go up.
            store.reject_photo(wanted_id, key, "the photo could not be processed; upload it again", clock.now())
        raise


def _publish(wanted_id: str, key: str, upload_id: str) -> str:
    previous = store.get(wanted_id)
    if previous is None or previous.photo_upload_key != key or previous.status is not WantedStatus.ACTIVE:
        # Not the upload the notice waits for (an old link, a closed notice), or processed before: never read
        # (in AWS a deleted upload answers 403, not 404, as the functions may not list the bucket).
        uploads.discard(key)
        return "not_expected"
    if previous.photo_key and upload_id in previous.photo_key:
        _delete_older_renditions(wanted_id, upload_id)  # a crash may have come between publishing and tidying up
        uploads.discard(key)
        return "already_processed"
    try:
        data = uploads.read(key, max_bytes=wanted.MAX_UPLOAD_BYTES)
    except ValueError as error:
        return _reject(wanted_id, key, str(error))
    if data is None:
        return "already_processed"
    try:
        photo = images.strip_metadata(data, max_side=PHOTO_SIDE, max_pixels=MAX_PIXELS)
        if min(photo.width, photo.height) < MIN_SIDE:
            raise MediaRejectedError(
                f"image too small or too narrow: {photo.width}×{photo.height} pixels once fitted into {PHOTO_SIDE} "
                f"(at least {MIN_SIDE} on each side)"
            )
        thumbnail = images.strip_metadata(photo.data, max_side=THUMBNAIL_SIDE)
    except MediaRejectedError as error:
        return _reject(wanted_id, key, error.reason)
    photo_key = f"{wanted.PUBLIC_PREFIX}{wanted_id}/{upload_id}-{PHOTO_SIDE}.jpg"
    thumbnail_key = f"{wanted.PUBLIC_PREFIX}{wanted_id}/{upload_id}-{THUMBNAIL_SIDE}.jpg"
    public_media.put_jpeg(photo_key, photo.data)
    public_media.put_jpeg(thumbnail_key, thumbnail.data)
    if not store.publish_photo(wanted_id, key, photo_key, thumbnail_key, clock.now()):
        # The notice was closed, or another upload was asked for meanwhile: this photo must not stay public.
        public_media.delete([photo_key, thumbnail_key])
        uploads.discard(key)
        return "superseded"
    _delete_older_renditions(wanted_id, upload_id)
    uploads.discard(key)
    count("WantedPhotosPublished")
    return "published"


def _delete_older_renditions(wanted_id: str, upload_id: str) -> None:
    prefix = f"{wanted.PUBLIC_PREFIX}{wanted_id}/"
    public_media.delete_except(prefix, keep=f"{prefix}{upload_id}-")


def _reject(wanted_id: str, key: str, reason: str) -> str:
    count("WantedPhotosRejected")
    logger.info("wanted photo rejected", extra={"wanted_id": wanted_id, "reason": reason})
    store.reject_photo(wanted_id, key, reason, clock.now())
    uploads.discard(key)
    return "rejected"
