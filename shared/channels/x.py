"""X (Twitter): CRC, webhook signature, Account Activity payload -> InboundMessage, DMs and replies."""

from __future__ import annotations

from shared.domain import ParsedDelivery, ReplyAddress

API_URL_SETTING = "X_API_URL"
MEDIA_HOST_SUFFIXES = ("ton.twitter.com", "pbs.twimg.com")
SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def crc_response(crc_token: str) -> dict[str, str]:
    raise NotImplementedError("X CRC")


def verify_signature(raw_body: bytes, header_value: str | None) -> None:
    raise NotImplementedError("X signature")


def parse_delivery(raw_body: bytes) -> ParsedDelivery:
    raise NotImplementedError("X parsing")


def send_text(address: ReplyAddress, text: str) -> str:
    raise NotImplementedError("X DMs and replies")


def resolve_media_url(media_id: str) -> str:
    raise NotImplementedError("X media")


def media_headers(url: str) -> dict[str, str]:
    raise NotImplementedError("X OAuth 1.0a media signing")
