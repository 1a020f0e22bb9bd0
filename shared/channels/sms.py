"""Two-way SMS (AWS End User Messaging -> SNS): the SNS message -> InboundMessage. No media, no MMS in India.

One SNS message is one inbound SMS. A long SMS may arrive as several messages in any order (platform-contracts
§5); each becomes its own InboundMessage and the shared grouping joins them into the sender's open tip.
"""

from __future__ import annotations

import re
from typing import Any

from shared import clock
from shared.channels._fields import load_json
from shared.channels._fields import text as _str
from shared.domain import Channel, InboundMessage, ParsedDelivery, ReplyAddress
from shared.errors import MediaRejectedError, ReplyDeferredError

API_URL_SETTING = "GRAPH_API_URL"  # unused: SMS carries no media
MEDIA_HOST_SUFFIXES: tuple[str, ...] = ()
INBOUND_TOPIC = "sampark-inbound-sms"

_E164 = re.compile(r"\+?([1-9][0-9]{7,14})")
# A body that is nothing but one of these is an instruction to the number, never a tip. Opt-out and help are
# AWS End User Messaging's required keywords; START/UNSTOP opt back in. The subscriptions issue acts on them.
KEYWORDS = frozenset(
    {
        *("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT-OUT", "REMOVE", "ARRET", "TD"),
        "HELP",
        *("START", "UNSTOP"),
    }
)


# https://docs.aws.amazon.com/sms-voice/latest/userguide/two-way-sms-payload.html
# {"originationNumber": "+91…", "destinationNumber": "+91…", "messageKeyword": "KEYWORD_<account>",
#  "messageBody": "…", "inboundMessageId": "<uuid>", "previousPublishedMessageId": "…"}
def parse_delivery(raw_body: bytes) -> ParsedDelivery:
    """The SMS in one SNS message, or the reason it is not a tip. Only bytes that are not JSON raise."""
    payload = load_json(raw_body, "SNS message")
    message_or_reason = _parse_message(payload)
    if isinstance(message_or_reason, str):
        return ParsedDelivery(ignored=(message_or_reason,))
    return ParsedDelivery(messages=(message_or_reason,))


def _parse_message(payload: Any) -> InboundMessage | str:
    if not isinstance(payload, dict):
        return "malformed"
    sender = _e164(payload.get("originationNumber"))
    message_id = _str(payload.get("inboundMessageId"))
    if not sender or not message_id:
        return "malformed"
    # destinationNumber is not checked: the topic only receives our numbers' messages, and none is configured.
    text = _str(payload.get("messageBody"))
    if not text:
        return "empty"
    if text.rstrip(".!").upper() in KEYWORDS:
        return "keyword"
    return InboundMessage(
        channel=Channel.SMS,
        sender_id=sender,
        external_id=message_id,
        # The payload has no timestamp; the message is processed moments after AWS received it.
        sent_at=clock.now(),
        reply_address=ReplyAddress(channel=Channel.SMS, recipient=sender, recipient_kind="phone", in_reply_to=None),
        text=text,
    )


def _e164(value: Any) -> str:
    """``+<digits>``, or "" for anything else (a short code or an alphanumeric sender cannot be a citizen)."""
    match = _E164.fullmatch(_str(value))
    return f"+{match.group(1)}" if match else ""


def send_text(address: ReplyAddress, text: str) -> str:
    # India needs DLT-registered templates and a registered sender (reliability-security §1.1): until the
    # subscriptions issue sends those, the acknowledgement stays pending.
    raise ReplyDeferredError("SMS acknowledgements wait for DLT-compliant sending (subscriptions issue)")


def resolve_media_url(media_id: str) -> str:
    raise MediaRejectedError("no_media_on_sms")


def media_headers(url: str) -> dict[str, str]:
    return {}
