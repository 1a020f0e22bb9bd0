"""Facebook Messenger: webhook payload -> InboundMessage, and replies through the Send API.

Handshake and signature are Meta's and live in shared.channels.meta.
"""

from __future__ import annotations

from shared.domain import ParsedDelivery, ReplyAddress
from shared.errors import MediaRejectedError

API_URL_SETTING = "GRAPH_API_URL"
# Attachments are signed Facebook CDN URLs that need no token.
MEDIA_HOST_SUFFIXES = (".fbcdn.net", ".fbsbx.com")


def parse_delivery(raw_body: bytes) -> ParsedDelivery:
    raise NotImplementedError("Messenger parsing")


def send_text(address: ReplyAddress, text: str) -> str:
    raise NotImplementedError("Messenger Send API")


def resolve_media_url(media_id: str) -> str:
    raise MediaRejectedError("no_media_id")  # Messenger attachments come with their URL only


def media_headers(url: str) -> dict[str, str]:
    return {}
