"""Use case: fetch one attachment from its platform and keep the original in the private bucket."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import tempfile
from base64 import b64decode
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

from shared import channels, config, http, images
from shared.aws import media_store
from shared.domain import Channel, MediaStatus
from shared.errors import MediaRejectedError, MediaUnavailableError
from shared.observability import count, logger
from shared.storage import tips

MiB = 1024 * 1024


@dataclass(frozen=True)
class MediaType:
    content_type: str
    extension: str
    max_bytes: int


# Recognised by magic bytes only; the platform's declared MIME type is never trusted.
IMAGE_JPEG = MediaType("image/jpeg", "jpg", 5 * MiB)
IMAGE_PNG = MediaType("image/png", "png", 5 * MiB)
IMAGE_WEBP = MediaType("image/webp", "webp", 5 * MiB)
VIDEO_MP4 = MediaType("video/mp4", "mp4", 16 * MiB)
VIDEO_3GP = MediaType("video/3gpp", "3gp", 16 * MiB)
AUDIO_OGG = MediaType("audio/ogg", "ogg", 16 * MiB)
AUDIO_AAC = MediaType("audio/aac", "aac", 16 * MiB)
AUDIO_M4A = MediaType("audio/mp4", "m4a", 16 * MiB)
AUDIO_AMR = MediaType("audio/amr", "amr", 16 * MiB)
DOCUMENT_PDF = MediaType("application/pdf", "pdf", 25 * MiB)
LARGEST_ALLOWED = max(t.max_bytes for t in (VIDEO_MP4, DOCUMENT_PDF))

_SNIFF_BYTES = 16
_REFRESHABLE_STATUSES = (401, 403, 404, 410)


@dataclass(frozen=True)
class MediaJob:
    tip_id: str
    media_key: str
    channel: Channel
    media_id: str | None = None
    url: str | None = None
    sha256: str | None = None

    @classmethod
    def from_dict(cls, job: dict) -> MediaJob:
        return cls(
            tip_id=job["tip_id"],
            media_key=job["media_key"],
            channel=Channel(job["channel"]),
            media_id=job.get("media_id"),
            url=job.get("url"),
            sha256=job.get("sha256"),
        )


def fetch_media(job: MediaJob, receive_count: int = 1) -> str:
    """Download, check and store one attachment; returns the outcome. Transient failures raise to be retried."""
    if tips.get_media_status(job.tip_id, job.media_key) is not MediaStatus.PENDING:
        return "already_done"
    try:
        stored = _download_to_temp(job)
    except MediaRejectedError as error:
        tips.record_media_failed(job.tip_id, job.media_key, MediaStatus.REJECTED, error.reason)
        count("MediaFailures")
        logger.warning("media rejected", extra={"tip_id": job.tip_id, "reason": error.reason})
        return "rejected"
    except Exception as error:
        if receive_count >= config.get_int("MEDIA_MAX_RECEIVES"):
            # Last try before the dead-letter queue, whatever went wrong: the tip must say its media is missing.
            tips.record_media_failed(job.tip_id, job.media_key, MediaStatus.MISSING, type(error).__name__)
        count("MediaFailures")
        raise
    with stored.file:
        key = f"tips/{job.tip_id}/{job.media_key}.{stored.media_type.extension}"
        photo = _read_photo(stored)  # before the upload, which closes the file
        media_store.put(key, stored.file, content_type=stored.media_type.content_type, sha256_hex=stored.sha256)
    clean_key = _store_clean_copy(job, photo) if photo is not None else None
    tips.record_media_stored(
        job.tip_id,
        job.media_key,
        s3_key=key,
        content_type=stored.media_type.content_type,
        size=stored.size,
        sha256=stored.sha256,
        clean_s3_key=clean_key,
    )
    count("MediaStored")
    return "stored"


# Officers' copies keep detail (a number plate, a face) but not a full-resolution original's size.
CLEAN_COPY_MAX_SIDE = 2560


def _read_photo(stored: _Stored) -> bytes | None:
    """A photo's bytes (at most 5 MiB), or None for any other kind of media."""
    if not stored.media_type.content_type.startswith("image/"):
        return None
    photo = stored.file.read()
    stored.file.seek(0)
    return photo


def _store_clean_copy(job: MediaJob, photo: bytes) -> str | None:
    """A photo's copy without metadata, the one officers see; None if it cannot be made (the original stays)."""
    try:
        clean = images.strip_metadata(photo, max_side=CLEAN_COPY_MAX_SIDE)
    except MediaRejectedError as error:
        count("PhotosNotCleaned")
        logger.warning("photo kept without an officers' copy", extra={"tip_id": job.tip_id, "reason": error.reason})
        return None
    clean_key = f"tips/{job.tip_id}/{job.media_key}.clean.jpg"
    media_store.put_bytes(clean_key, clean.data, content_type=clean.content_type)
    return clean_key


@dataclass
class _Stored:
    file: IO[bytes]
    media_type: MediaType
    size: int
    sha256: str


def _download_to_temp(job: MediaJob) -> _Stored:
    adapter = channels.adapter(job.channel)
    url = job.url or _resolve(adapter, job)
    status, chunks = _start_download(adapter, job.channel, url)
    if status in _REFRESHABLE_STATUSES and job.media_id and job.url:
        # The URL in the webhook expired (WhatsApp's live 5 minutes): ask the platform for a fresh one.
        status, chunks = _start_download(adapter, job.channel, _resolve(adapter, job))
    _check_status(status, "download")
    try:
        stored = _spool(chunks)
    except http.HttpError as error:  # the connection broke mid-download: try again later
        raise MediaUnavailableError(str(error)) from error
    if job.sha256 and not _digest_matches(job.sha256, stored.sha256):
        stored.file.close()
        raise MediaUnavailableError("checksum does not match the platform's")
    return stored


def _resolve(adapter: channels.ChannelAdapter, job: MediaJob) -> str:
    if not job.media_id:
        raise MediaRejectedError("no_media_id")
    return adapter.resolve_media_url(job.media_id)


def _start_download(adapter: channels.ChannelAdapter, channel: Channel, url: str):
    check_allowed_host(url, channel)
    try:
        status, _, chunks = http.stream(url, headers=adapter.media_headers(url))
    except http.HttpError as error:
        raise MediaUnavailableError(str(error)) from error
    return status, chunks


def _check_status(status: int, step: str) -> None:
    if status == 200:
        return
    if status >= 500 or status in (429, *_REFRESHABLE_STATUSES):
        raise MediaUnavailableError(f"{step} answered {status}")
    raise MediaRejectedError(f"{step}_status_{status}")


def _spool(chunks) -> _Stored:
    """Stream to a temporary file, hashing as we go, and stop at the size cap of the sniffed type."""
    digest = hashlib.sha256()
    spool = tempfile.SpooledTemporaryFile(max_size=8 * MiB)  # noqa: SIM115 - returned to the caller, who closes it
    size, media_type, head = 0, None, b""
    try:
        for chunk in chunks:
            if media_type is None:
                head += chunk
                if len(head) >= _SNIFF_BYTES:
                    media_type = sniff(head)
            size += len(chunk)
            if size > (media_type.max_bytes if media_type else LARGEST_ALLOWED):
                raise MediaRejectedError("too_large")
            digest.update(chunk)
            spool.write(chunk)
        media_type = media_type or sniff(head)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return _Stored(spool, media_type, size, digest.hexdigest())


def sniff(head: bytes) -> MediaType:
    """The media type of a file from its first bytes; MediaRejectedError for anything not on the list."""
    if head.startswith(b"\xff\xd8\xff"):
        return IMAGE_JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return IMAGE_PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return IMAGE_WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"3g"):
            return VIDEO_3GP
        return AUDIO_M4A if brand == b"M4A " else VIDEO_MP4
    if head.startswith(b"OggS"):
        return AUDIO_OGG
    if head.startswith(b"#!AMR"):
        return AUDIO_AMR
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return AUDIO_AAC
    if head.startswith(b"%PDF-"):
        return DOCUMENT_PDF
    raise MediaRejectedError("unsupported_type")


def check_allowed_host(url: str, channel: Channel = Channel.WHATSAPP) -> None:
    """Fetch only from the platform's media hosts or its configured API; never from a private address."""
    adapter = channels.adapter(channel)
    parts = urlsplit(url)
    api = urlsplit(config.get_url(adapter.API_URL_SETTING))
    if (parts.scheme, parts.hostname, parts.port) == (api.scheme, api.hostname, api.port):
        return
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not any(
        host == suffix.lstrip(".") or host.endswith(suffix) for suffix in adapter.MEDIA_HOST_SUFFIXES
    ):
        raise MediaRejectedError("host_not_allowed")
    if not _resolves_to_public_addresses(host, parts.port or 443):
        raise MediaRejectedError("host_not_allowed")


def _resolves_to_public_addresses(host: str, port: int) -> bool:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise MediaUnavailableError(f"cannot resolve {host}") from error
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_global for info in infos)


def _digest_matches(declared: str, actual_hex: str) -> bool:
    """The platform's sha256 is base64 in webhooks and has been seen as hex in media lookups: accept both."""
    if declared.lower() == actual_hex:
        return True
    try:
        return b64decode(declared, validate=True).hex() == actual_hex
    except ValueError:
        return False
