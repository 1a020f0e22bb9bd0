"""Two-way SMS (AWS End User Messaging -> SNS): the SNS message -> InboundMessage. No media, no MMS in India."""

from __future__ import annotations

from shared.domain import ParsedDelivery, ReplyAddress
from shared.errors import MediaRejectedError

API_URL_SETTING = "GRAPH_API_URL"  # unused: SMS carries no media
MEDIA_HOST_SUFFIXES: tuple[str, ...] = ()
INBOUND_TOPIC = "sampark-inbound-sms"


def parse_delivery(raw_body: bytes) -> ParsedDelivery:
    raise NotImplementedError("SMS parsing")


def send_text(address: ReplyAddress, text: str) -> str:
    raise NotImplementedError("SMS sending comes with the subscriptions issue")


def resolve_media_url(media_id: str) -> str:
    raise MediaRejectedError("no_media_on_sms")


def media_headers(url: str) -> dict[str, str]:
    return {}
